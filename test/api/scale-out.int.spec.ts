import { listen, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { describeWithPostgres } from '../support/databases';
import { eventually } from '../support/eventually';
import { gitlabAccount } from '../support/gitlab-accounts';
import { GitLabDouble } from '../support/gitlab-double';
import { buildScenario, ops, type Scenario } from '../support/scenario';

const DEADLINE = 30_000;

type Live = { cursor: string; type: string; data: Record<string, any> };
type Toggled = { cursor: string; enabled: boolean; plan: { id: string }; credential: { id: string; login: string } };

async function history(api: TestApi, filter: Record<string, unknown> = {}): Promise<Live[]> {
  const { auditLog } = await api.ok(api.rootToken, ops.auditLog, { filter, first: 500 });
  return auditLog.edges.map((edge: any) => edge.node);
}

// The store is the only thing the two services share: whatever one sees of the other came through PostgreSQL.
describeWithPostgres('two Backplane services on one PostgreSQL schema', () => {
  let storage: TestStorage;
  /** The one GitLab both services' organizations live on, as two replicas of one deployment would share it. */
  let gitlab: GitLabDouble;
  let a: TestApi;
  let b: TestApi;
  let s: Scenario;

  beforeAll(async () => {
    storage = await testStorage('postgres');
    gitlab = await GitLabDouble.start();
    a = await startTestApi(storage, { gitlab });
    b = await startTestApi(storage, { rootToken: a.rootToken, gitlab });
    s = await buildScenario(a, a.rootToken);
    // The organization's first repository sync writes to the history too: done before the tests compare histories.
    await a.service.app.jobs.idle();
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await gitlab?.close();
    await storage?.dispose();
  });

  it('bootstraps one tenant when two services start at once on an empty store', async () => {
    const fresh = await testStorage('postgres');
    const token = `bpk_test_together_${Date.now()}_abcdefghijklmnop`;
    const both = await Promise.all([startTestApi(fresh, { rootToken: token, gitlab }), startTestApi(fresh, { rootToken: token, gitlab })]);
    try {
      expect(both.map((api) => api.service.bootstrapped).sort()).toEqual([false, true]);
      const tenants = await both[0].service.backplane.store.readAll({ filter: { eventTypes: ['TenantCreated'] } });
      expect(tenants).toHaveLength(1);
      for (const api of both) expect((await api.ok(token, ops.me)).me).toMatchObject({ root: true, tenant: { id: 'default' } });
    } finally {
      await Promise.all(both.map((api) => api.close()));
      await fresh.dispose();
    }
  });

  it('bootstraps one tenant: the second service finds it and takes the same root token', async () => {
    expect(a.service.bootstrapped).toBe(true);
    expect(b.service.bootstrapped).toBe(false);
    const [onA, onB] = await Promise.all([a.ok(a.rootToken, ops.me), b.ok(b.rootToken, ops.me)]);
    expect(onB.me).toEqual(onA.me);
    expect(onA.me).toMatchObject({ root: true, role: 'ADMIN', tenant: { id: 'default' } });
    expect(await history(b, { types: ['TenantCreated'] })).toHaveLength(1);
  });

  it("shows what one service wrote in the other's queries", async () => {
    await eventually(async () => {
      const { plan } = await b.ok(b.rootToken, ops.plan, { id: s.planId });
      expect(plan).toMatchObject({ id: s.planId, organization: { id: s.organizationId } });
      expect(plan.credentials.map((c: any) => [c.credential.id, c.enabled])).toEqual([
        [s.credentialIds[0], true],
        [s.credentialIds[1], false],
      ]);
    }, DEADLINE);

    const { createPlan } = await b.ok(b.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: 'made on b' } });
    await eventually(
      async () => expect((await a.ok(a.rootToken, ops.plans, { organizationId: s.organizationId })).plans.map((p: any) => p.id)).toContain(createPlan.id),
      DEADLINE,
    );
    expect((await history(a)).map((event) => event.cursor)).toEqual((await history(b)).map((event) => event.cursor));
  });

  for (const [writer, reader] of [
    ['a', 'b'],
    ['b', 'a'],
  ] as const) {
    it(`delivers a mutation made through ${writer} to subscriptions listening on ${reader}`, async () => {
      const apis = { a: () => a, b: () => b };
      const write = apis[writer]();
      const read = apis[reader]();
      const client = read.ws(read.rootToken);
      try {
        const audit = listen<{ auditEvents: Live }>(client, ops.auditEvents, { filter: { planId: s.planId } });
        const toggled = listen<{ planCredentialToggled: Toggled }>(client, ops.planCredentialToggled, { planId: s.planId });
        let last = false;
        const flip = async () => {
          const { plan } = await write.ok(write.rootToken, ops.plan, { id: s.planId });
          last = !plan.credentials.find((c: any) => c.credential.id === s.credentialIds[1]).enabled;
          return write.ok(write.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[1], enabled: last });
        };
        // Listening starts some time after subscribing: poke until both feeds have delivered.
        await eventually(async () => {
          const before = [audit.received.length, toggled.received.length];
          await flip();
          await eventually(() => expect([audit.received.length > before[0], toggled.received.length > before[1]]).toEqual([true, true]), 2000);
        }, DEADLINE);
        // A flip given up on above may still be on its way and would be counted below: wait for the last one,
        // which each feed delivers after every earlier one.
        const [poked] = (await history(write, { planId: s.planId })).slice(-1);
        await eventually(() => {
          expect(audit.received.map((item) => item.auditEvents.cursor)).toContain(poked.cursor);
          expect(toggled.received.map((item) => item.planCredentialToggled.cursor)).toContain(poked.cursor);
        }, DEADLINE);

        const startAudit = audit.received.length;
        const startToggled = toggled.received.length;
        await flip();
        await eventually(() => expect(toggled.received.length).toBe(startToggled + 1), DEADLINE);
        expect(toggled.received.at(-1)!.planCredentialToggled).toMatchObject({
          enabled: last,
          plan: { id: s.planId },
          credential: { id: s.credentialIds[1], login: 'acme-bot2' },
        });

        await eventually(() => expect(audit.received.length).toBe(startAudit + 1), DEADLINE);
        const [event] = (await history(write, { planId: s.planId })).slice(-1);
        expect(audit.received.at(-1)!.auditEvents).toMatchObject({ cursor: event.cursor, type: 'PlanCredentialToggled', data: { enabled: last } });
        expect(toggled.received.at(-1)!.planCredentialToggled.cursor).toBe(event.cursor);
        expect([...audit.errors, ...toggled.errors]).toEqual([]);
      } finally {
        await client.dispose();
      }
    });
  }

  it('lets one of two plans with one name, created through both services at once, through and refuses the other', async () => {
    const listed = async (api: TestApi, name: string) =>
      (await api.ok(api.rootToken, ops.plans, { organizationId: s.organizationId })).plans.filter((p: any) => p.name === name).map((p: any) => p.id);
    // One round may be decided before the other request arrives; several make an overlap likely.
    for (const round of [1, 2, 3, 4, 5]) {
      const name = `raced ${round}`;
      const answers = await Promise.all([a, b].map((api) => api.request(api.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name } })));
      const created = answers.filter((answer) => !answer.errors).map((answer) => answer.data!.createPlan.id as string);
      const refused = answers.filter((answer) => answer.errors).map((answer) => answer.errors![0].extensions?.code);
      expect({ created: created.length, refused }).toEqual({ created: 1, refused: ['CONFLICT'] });
      for (const api of [a, b]) await eventually(async () => expect(await listed(api, name)).toEqual(created), DEADLINE);
    }
    expect(await history(a, { types: ['PlanCreated'] })).toHaveLength((await a.ok(a.rootToken, ops.plans, {})).plans.length);
  });

  it('serves a burst of locked commands from many tenants at once on both services without starving its connections', async () => {
    const tenants = [];
    for (let index = 0; index < 12; index++) tenants.push((await a.ok(a.rootToken, ops.createTenant, { name: `burst ${index}` })).createTenant.token as string);
    // Each registerDevice holds its tenant's lock while it looks up, appends and waits for the read models.
    const results = await Promise.all(
      tenants.flatMap((token, index) =>
        [a, b].map((api) => api.request(token, ops.registerDevice, { name: `burst device ${index} ${api === a ? 'a' : 'b'}` })),
      ),
    );
    expect(results.flatMap((result) => result.errors ?? [])).toEqual([]);
    for (const token of tenants) {
      const { devices } = await a.ok(token, ops.devices);
      expect(devices.filter((device: any) => device.name.startsWith('burst device'))).toHaveLength(2);
    }
  });

  it('never leaves a removed credential switched on, whatever toggles race the removal through either service', async () => {
    for (let round = 0; round < 4; round++) {
      const { storePassword } = await a.ok(a.rootToken, ops.storePassword, {
        input: { name: `racer ${round}`, secret: `fake-token-racer-${round}-0123456789` },
      });
      gitlabAccount(gitlab, `racer-${round}`, `fake-token-racer-${round}-0123456789`);
      const { addCredential } = await a.ok(a.rootToken, ops.addCredential, {
        input: { organizationId: s.organizationId, login: `racer-${round}`, passwordId: storePassword.id },
      });
      const planIds: string[] = [];
      for (let index = 0; index < 4; index++)
        planIds.push((await a.ok(a.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: `race ${round}.${index}` } })).createPlan.id);
      const credentialId = addCredential.id;
      // Enabling on every plan through both services while the removal runs: each toggle either
      // lands before the removal (and is switched off by it) or is refused after it.
      const toggles = planIds.flatMap((planId, index) =>
        [a, b].map((api) => api.request(api.rootToken, ops.togglePlanCredential, { planId, credentialId, enabled: true }).then(() => index)),
      );
      const removal = (round % 2 === 0 ? a : b).ok(a.rootToken, ops.removeCredential, { id: credentialId });
      await Promise.all([...toggles, removal]);

      for (const planId of planIds) {
        const events = await history(a, { planId, credentialId, types: ['PlanCredentialToggled'] });
        expect(events.length === 0 || events[events.length - 1].data.enabled === false).toBe(true);
      }
    }
  });
});
