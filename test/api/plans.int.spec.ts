import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { gitlabAccount } from '../support/gitlab-accounts';
import { buildScenario, ops, type Scenario } from '../support/scenario';

type AuditNode = { id: string; cursor: string; type: string; data: Record<string, any>; correlationId: string; causationId: string; actor: { id: string } };

async function history(api: TestApi, filter: Record<string, unknown> = {}): Promise<AuditNode[]> {
  const { auditLog } = await api.ok<{ auditLog: { edges: { node: AuditNode }[] } }>(api.rootToken, ops.auditLog, { filter, first: 500 });
  return auditLog.edges.map((edge) => edge.node);
}

for (const store of apiStores) {
  describe(`backup plans and their credentials over HTTP, on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    let s: Scenario;
    let label: string;
    let tests = 0;
    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage);
    });
    // Each test gets an organization and plan of its own, so that it passes alone, in any order.
    beforeEach(async () => {
      label = `acme${++tests}`;
      s = await buildScenario(api, api.rootToken, label);
      // The organization's first repository sync writes to the history too: let it finish before the tests count.
      await api.service.app.jobs.idle();
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    it('puts a new credential on no plan, and starts a new plan with its switch off', async () => {
      const { createPlan } = await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: 'weekly' } });
      expect(createPlan.additionalCredentialsEnabled).toBe(false);
      expect(createPlan.credentials.map((c: any) => [c.credential.id, c.enabled, c.effective])).toEqual(s.credentialIds.map((id) => [id, false, false]));

      const login = `${label}-bot3`;
      const { storePassword } = await api.ok(api.rootToken, ops.storePassword, { input: { name: login, secret: 'fake-token-bot3-secret-value-0003' } });
      gitlabAccount(api.gitlab, login, 'fake-token-bot3-secret-value-0003');
      const { addCredential } = await api.ok(api.rootToken, ops.addCredential, {
        input: { organizationId: s.organizationId, login, passwordId: storePassword.id },
      });
      const { plan } = await api.ok(api.rootToken, ops.plan, { id: s.planId });
      expect(plan.credentials.find((c: any) => c.credential.id === addCredential.id)).toMatchObject({
        enabled: false,
        effective: false,
        enabledAt: null,
        enabledBy: null,
      });
      expect((await history(api, { types: ['PlanCredentialToggled'], credentialId: addCredential.id })).length).toBe(0);
    });

    it('answers a toggle with the plan as it now stands, and a toggle to the value it has writes nothing', async () => {
      const me = (await api.ok(api.rootToken, ops.me)).me;
      const { togglePlanCredential: on } = await api.ok(api.rootToken, ops.togglePlanCredential, {
        planId: s.planId,
        credentialId: s.credentialIds[1],
        enabled: true,
      });
      expect(on.credentials.find((c: any) => c.credential.id === s.credentialIds[1])).toMatchObject({
        enabled: true,
        effective: true,
        enabledBy: { id: me.id },
      });
      const before = await history(api);
      const { togglePlanCredential: again } = await api.ok(api.rootToken, ops.togglePlanCredential, {
        planId: s.planId,
        credentialId: s.credentialIds[1],
        enabled: true,
      });
      expect(again.version).toBe(on.version);
      expect(await history(api)).toHaveLength(before.length);
    });

    it('is effective only while the plan switch is on', async () => {
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[1], enabled: true });
      const { setPlanAdditionalCredentials: off } = await api.ok(api.rootToken, ops.setPlanAdditionalCredentials, { planId: s.planId, enabled: false });
      expect(off.additionalCredentialsEnabled).toBe(false);
      const { plan } = await api.ok(api.rootToken, ops.plan, { id: s.planId });
      expect(plan.credentials.filter((c: any) => c.enabled).every((c: any) => c.effective === false)).toBe(true);
      await api.ok(api.rootToken, ops.setPlanAdditionalCredentials, { planId: s.planId, enabled: true });
      const { plan: back } = await api.ok(api.rootToken, ops.plan, { id: s.planId });
      expect(
        back.credentials
          .filter((c: any) => c.effective)
          .map((c: any) => c.credential.id)
          .sort(),
      ).toEqual([...s.credentialIds].sort());
    });

    it('saves the edit panel in one append: one event per change, all with one correlation id', async () => {
      const { createPlan } = await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: 'panel' } });
      const { updatePlanCredentials } = await api.ok(api.rootToken, ops.updatePlanCredentials, {
        planId: createPlan.id,
        input: { additionalCredentialsEnabled: true, credentials: s.credentialIds.map((credentialId) => ({ credentialId, enabled: true })) },
        v: createPlan.version,
      });
      expect(updatePlanCredentials.version).toBe(createPlan.version + 3);
      const events = await history(api, { planId: createPlan.id });
      expect(events.map((event) => event.type)).toEqual(['PlanCreated', 'PlanAdditionalCredentialsSet', 'PlanCredentialToggled', 'PlanCredentialToggled']);
      expect(new Set(events.slice(1).map((event) => event.correlationId)).size).toBe(1);
    });

    it('refuses a stale expectedVersion with CONFLICT and writes nothing', async () => {
      const { plan } = await api.ok(api.rootToken, ops.plan, { id: s.planId });
      const before = await history(api);
      const response = await api.request(api.rootToken, ops.togglePlanCredential, {
        planId: s.planId,
        credentialId: s.credentialIds[0],
        enabled: false,
        v: plan.version - 1,
      });
      expect(response.errors?.[0].extensions?.code).toBe('CONFLICT');
      expect(await history(api)).toHaveLength(before.length);
      const ok = await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[0], enabled: false, v: plan.version });
      expect(ok.togglePlanCredential.version).toBe(plan.version + 1);
    });

    it('refuses a negative expectedVersion as bad input, naming it, and writes nothing', async () => {
      const before = await history(api);
      for (const [operation, variables] of [
        [ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[0], enabled: true, v: -1 }],
        [ops.updateOrganizationSettings, { id: s.organizationId, input: { protectGroups: true }, v: -2 }],
      ] as const) {
        const response = await api.request(api.rootToken, operation, variables);
        expect(response.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
        expect(response.errors?.[0].message).toMatch(/^expectedVersion: /);
      }
      expect(await history(api)).toHaveLength(before.length);
    });

    it("refuses another organization's credential with NOT_FOUND and writes nothing", async () => {
      const other = await buildScenario(api, api.rootToken, `${label}-other`);
      await api.service.app.jobs.idle();
      const before = await history(api);
      const response = await api.request(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: other.credentialIds[0], enabled: true });
      expect(response.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      expect(await history(api)).toHaveLength(before.length);
    });

    it('removing a credential switches it off on every plan that had it, each toggle caused by the removal', async () => {
      const second = await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: 'second' } });
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: second.createPlan.id, credentialId: s.credentialIds[0], enabled: true });
      const { plans } = await api.ok(api.rootToken, ops.plans, { organizationId: s.organizationId });
      const having: string[] = [];
      for (const { id } of plans) {
        const { plan } = await api.ok(api.rootToken, ops.plan, { id });
        if (plan.credentials.some((c: any) => c.credential.id === s.credentialIds[0] && c.enabled)) having.push(id);
      }
      expect(having).toContain(second.createPlan.id);

      const { removeCredential } = await api.ok(api.rootToken, ops.removeCredential, { id: s.credentialIds[0] });
      expect(removeCredential.status).toBe('REMOVED');
      const events = await history(api, { credentialId: s.credentialIds[0] });
      const removal = events.find((event) => event.type === 'CredentialRemoved')!;
      const offs = events.filter((event) => event.type === 'PlanCredentialToggled' && event.causationId === removal.id);
      expect(offs.map((event) => event.data.planId).sort()).toEqual(having.sort());
      for (const off of offs) {
        expect(off.data.enabled).toBe(false);
        expect(off.correlationId).toBe(removal.correlationId);
      }

      const { plan } = await api.ok(api.rootToken, ops.plan, { id: s.planId });
      expect(plan.credentials.map((c: any) => c.credential.id)).not.toContain(s.credentialIds[0]);
      const refused = await api.request(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[0], enabled: true });
      expect(refused.errors?.[0].extensions?.code).toBe('CONFLICT');
    });

    it('answers for any instant which credentials a plan had, who enabled each and whether they were effective', async () => {
      const tick = () => new Promise((resolve) => setTimeout(resolve, 20));
      await tick();
      const t1 = new Date();
      await tick();
      await api.ok(api.rootToken, ops.setPlanAdditionalCredentials, { planId: s.planId, enabled: false });
      await tick();
      const t2 = new Date();
      await tick();
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[1], enabled: true });
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[0], enabled: false });
      await tick();
      const t3 = new Date();

      const at = async (instant: Date) =>
        (await api.ok(api.rootToken, ops.planCredentialsAsOf, { planId: s.planId, at: instant.toISOString() })).planCredentialsAsOf.map((c: any) => [
          c.credential.id,
          c.effective,
        ]);
      expect(await at(new Date(0))).toEqual([]);
      expect(await at(t1)).toEqual([[s.credentialIds[0], true]]);
      expect(await at(t2)).toEqual([[s.credentialIds[0], false]]);
      expect(await at(t3)).toEqual([[s.credentialIds[1], false]]);
      const [entry] = (await api.ok(api.rootToken, ops.planCredentialsAsOf, { planId: s.planId, at: t1.toISOString() })).planCredentialsAsOf;
      expect(entry.enabledBy.name).toBe('first administrator');
      expect(Date.parse(entry.enabledAt)).toBeLessThanOrEqual(t1.getTime());
    });

    it('refuses a change to a plan that is unknown or deleted as a plan not found, whatever else the change says, writing nothing', async () => {
      const { createPlan } = await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: `${label} gone` } });
      await api.ok(api.rootToken, ops.deletePlan, { id: createPlan.id });
      const before = await history(api);
      const unknown = '00000000-0000-4000-8000-000000000000';
      const changes = [
        [ops.togglePlanCredential, { planId: unknown, credentialId: s.credentialIds[1], enabled: true }],
        // An expected version the plan cannot have, a credential that is none: still the plan that is not found.
        [ops.togglePlanCredential, { planId: unknown, credentialId: unknown, enabled: true, v: 7 }],
        [ops.togglePlanCredential, { planId: 'not-a-plan', credentialId: s.credentialIds[1], enabled: true }],
        [ops.togglePlanCredential, { planId: createPlan.id, credentialId: s.credentialIds[1], enabled: true }],
        [ops.togglePlanCredential, { planId: createPlan.id, credentialId: s.credentialIds[1], enabled: true, v: 0 }],
        [ops.setPlanAdditionalCredentials, { planId: createPlan.id, enabled: true }],
        [ops.updatePlanCredentials, { planId: unknown, input: { credentials: [{ credentialId: s.credentialIds[1], enabled: true }] } }],
        [ops.deletePlan, { id: createPlan.id }],
      ] as const;
      for (const [document, variables] of changes) {
        const planId = 'planId' in variables ? variables.planId : variables.id;
        const refused = await api.request(api.rootToken, document, variables);
        expect(refused.errors?.[0]).toMatchObject({ message: `no plan ${planId}`, extensions: { code: 'NOT_FOUND' } });
      }
      expect(await history(api)).toHaveLength(before.length);
    });

    it('refuses a plan name the tenant has, and a plan of an unknown organization, writing nothing', async () => {
      const before = await history(api);
      const same = await api.request(api.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: `${label} NIGHTLY`.toUpperCase() } });
      expect(same.errors?.[0].extensions?.code).toBe('CONFLICT');
      const unknown = await api.request(api.rootToken, ops.createPlan, { input: { organizationId: '00000000-0000-4000-8000-000000000000', name: 'x' } });
      expect(unknown.errors?.[0].extensions?.code).toBe('NOT_FOUND');
      expect(await history(api)).toHaveLength(before.length);
    });
  });
}
