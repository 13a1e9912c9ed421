import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { buildScenario, ops, type Scenario } from '../support/scenario';

type AuditNode = { id: string; cursor: string; type: string; occurredAt: string; data: Record<string, any>; actor: { id: string | null }; streamName: string };
type Page = { edges: { cursor: string; node: AuditNode }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };

for (const store of apiStores) {
  describe(`the audit history and its integrity, on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    let s: Scenario;
    let operatorId: string;
    /** The whole history of the tenant, in one page. */
    let all: AuditNode[];

    const page = async (variables: Record<string, unknown>) => (await api.ok<{ auditLog: Page }>(api.rootToken, ops.auditLog, variables)).auditLog;
    const nodes = async (filter: Record<string, unknown>) => (await page({ filter, first: 500 })).edges.map((edge) => edge.node.id);
    const refusal = async (variables: Record<string, unknown>) => (await api.request(api.rootToken, ops.auditLog, variables)).errors?.[0]?.extensions?.code;

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage);
      s = await buildScenario(api, api.rootToken, 'audit');
      // A second actor and a second organization, so that every filter has something to leave out.
      const operator = (await api.ok(api.rootToken, ops.createApiToken, { name: 'operator', role: 'OPERATOR' })).createApiToken;
      operatorId = operator.principal.id;
      await api.ok(operator.token, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[1], enabled: true });
      await api.ok(operator.token, ops.registerDevice, { name: 'nas' });
      await buildScenario(api, api.rootToken, 'other');
      // Each organization's first repository sync writes to the history too: the snapshot below is the whole of it only once they are done.
      await api.service.app.jobs.idle();
      const whole = await page({ first: 500 });
      expect(whole.pageInfo.hasNextPage).toBe(false);
      all = whole.edges.map((edge) => edge.node);
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    it("lists the tenant's events oldest first, in the order of the log", async () => {
      const logged = await api.service.backplane.store.readAll();
      const tenants = new Map(logged.map((event) => [event.id, event.metadata.tenantId]));
      const tenantId = tenants.get(all[0].id);
      expect(all.map((node) => node.id)).toEqual(logged.filter((event) => event.metadata.tenantId === tenantId).map((event) => event.id));
      expect(all.map((node) => node.cursor)).toEqual(logged.filter((event) => event.metadata.tenantId === tenantId).map((event) => event.position));
      expect(all[0].type).toBe('TenantCreated');
    });

    it('walks the whole history a few events at a time, with no event twice and none left out', async () => {
      const walked: string[] = [];
      let after: string | null = null;
      for (let pages = 0; ; pages++) {
        expect(pages).toBeLessThan(all.length);
        const { edges, pageInfo }: Page = await page({ first: 3, after });
        expect(edges.length).toBeLessThanOrEqual(3);
        walked.push(...edges.map((edge) => edge.cursor));
        if (!pageInfo.hasNextPage) break;
        expect(pageInfo.endCursor).toBe(edges.at(-1)!.cursor);
        after = pageInfo.endCursor;
      }
      expect(walked).toEqual(all.map((node) => node.cursor));
    });

    it('pages a filtered history the same way', async () => {
      const filter = { types: ['PlanCredentialToggled', 'CredentialAdded'] };
      const first = await page({ filter, first: 2 });
      const rest = await page({ filter, first: 500, after: first.pageInfo.endCursor });
      expect([...first.edges, ...rest.edges].map((edge) => edge.node.id)).toEqual(await nodes(filter));
    });

    it('returns exactly the events each filter matches', async () => {
      const ids = (keep: (node: AuditNode) => boolean) => all.filter(keep).map((node) => node.id);
      const from = all[Math.floor(all.length / 3)].occurredAt;
      const to = all[Math.floor((2 * all.length) / 3)].occurredAt;
      const cases: [Record<string, unknown>, string[]][] = [
        [{ types: ['PlanCredentialToggled', 'PasswordStored'] }, ids((node) => ['PlanCredentialToggled', 'PasswordStored'].includes(node.type))],
        [{ planId: s.planId }, ids((node) => node.data.planId === s.planId)],
        [{ organizationId: s.organizationId }, ids((node) => node.data.organizationId === s.organizationId)],
        [{ credentialId: s.credentialIds[1] }, ids((node) => node.data.credentialId === s.credentialIds[1])],
        [{ actorId: operatorId }, ids((node) => node.actor.id === operatorId)],
        [{ from, to }, ids((node) => Date.parse(node.occurredAt) >= Date.parse(from) && Date.parse(node.occurredAt) < Date.parse(to))],
        [
          { planId: s.planId, types: ['PlanCredentialToggled'], actorId: operatorId },
          ids((node) => node.data.planId === s.planId && node.type === 'PlanCredentialToggled' && node.actor.id === operatorId),
        ],
      ];
      for (const [filter, expected] of cases) {
        expect(expected.length).toBeGreaterThan(0);
        expect(expected.length).toBeLessThan(all.length);
        expect({ filter, ids: await nodes(filter) }).toEqual({ filter, ids: expected });
      }
    });

    it('refuses an unknown cursor and a page size outside 1 to 500 with BAD_USER_INPUT', async () => {
      expect(await refusal({ after: 'not-a-cursor' })).toBe('BAD_USER_INPUT');
      expect(await refusal({ after: '999999999-1' })).toBe('BAD_USER_INPUT');
      expect(await refusal({ first: 0 })).toBe('BAD_USER_INPUT');
      expect(await refusal({ first: 501 })).toBe('BAD_USER_INPUT');
      expect(await refusal({ first: 500 })).toBeUndefined();
    });

    it('refuses a time range that ends where it starts or before, naming to, as the export does', async () => {
      for (const [from, to] of [
        ['2026-12-06T10:00:00Z', '2026-12-06T09:59:59.999Z'],
        ['2026-12-06T10:00:00Z', '2026-12-06T10:00:00Z'],
      ]) {
        const response = await api.request(api.rootToken, ops.auditLog, { filter: { from, to } });
        expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: { to: ['to must be later than from'] } });
      }
      expect(await refusal({ filter: { from: '2026-12-06T10:00:00Z', to: '2026-12-06T10:00:00.001Z' } })).toBeUndefined();
      expect(await refusal({ filter: { to: '2026-12-06T10:00:00Z' } })).toBeUndefined();
    });

    it('shows no secret in the data of any event', () => {
      expect(all.filter((node) => node.type === 'PasswordStored').length).toBeGreaterThan(0);
      const text = JSON.stringify(all);
      for (const secret of s.secrets) expect(text).not.toContain(secret);
    });

    // Last: it breaks the log that the other tests read.
    it('verifies an untouched log, then names the first event altered behind its back', async () => {
      const intact = (await api.ok(api.rootToken, ops.verifyAuditLog)).verifyAuditLog;
      expect(intact).toMatchObject({ ok: true, firstBrokenCursor: null });
      expect(intact.checked).toBeGreaterThanOrEqual(all.length);

      const target = all.find((node) => node.type === 'PlanCredentialToggled' && node.data.planId === s.planId)!;
      const db = api.service.backplane.db;
      const [before] = await db.query<{ data: string }>('SELECT data::text AS data FROM events WHERE id = $1', [target.id]);
      await db.query(`UPDATE events SET data = jsonb_set(data, '{enabled}', to_jsonb(NOT (data->>'enabled')::boolean)) WHERE id = $1`, [target.id]);
      const broken = (await api.ok(api.rootToken, ops.verifyAuditLog)).verifyAuditLog;
      expect(broken).toMatchObject({ ok: false, firstBrokenCursor: target.cursor });
      expect(broken.checked).toBeLessThan(intact.checked);

      await db.query('UPDATE events SET data = $2::jsonb WHERE id = $1', [target.id, before.data]);
      expect((await api.ok(api.rootToken, ops.verifyAuditLog)).verifyAuditLog).toMatchObject({ ok: true, checked: intact.checked });
    });
  });
}
