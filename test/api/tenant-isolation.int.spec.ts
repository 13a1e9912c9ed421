import { apiStores, listen, startTestApi, testStorage, type GraphQLResponse, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { buildScenario, ops, secretValue, type Scenario } from '../support/scenario';

/** A tenant as the suite knows it: its ADMIN, what buildScenario made, and objects that a foreign call could destroy. */
interface Tenant {
  name: string;
  token: string;
  s: Scenario;
  /** A password entry nothing uses: deletable, if another tenant could reach it. */
  sparePasswordId: string;
  /** An OPERATOR token that wrote the spare password: revocable, if another tenant could reach it, and an actor of the history. */
  spareTokenId: string;
  /** The ADMIN's own token id, named as the actor of the tenant's events. */
  adminId: string;
  /** A repository of its organization, and the sync that found it. */
  repositoryId: string;
  syncId: string;
  /** A run of its plan. */
  taskId: string;
  /** Every id the tenant's own lists show, and the names and secrets it chose. */
  ids: string[];
  words: string[];
}

type Expected = 'NOT_FOUND' | 'null' | 'empty';

interface Probe {
  label: string;
  document: string;
  /** `own` calls, `foreign` is the tenant whose ids it names. */
  variables(own: Tenant, foreign: Tenant): Record<string, unknown>;
  expected: Expected;
}

let serial = 0;
const fresh = (prefix: string) => `${prefix}-${++serial}`;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const organizationInput = (passwordId: string, defaultDeviceId: string) => ({
  name: `${fresh('intruder')}/group`,
  authMethod: 'TOKEN',
  login: fresh('login'),
  passwordId,
  defaultDeviceId,
  repositoriesSync: { intervalMinutes: 60 },
});

const taskOps = {
  runPlan: 'mutation($planId: ID!) { runPlan(planId: $planId) { id status } }',
  task: 'query($id: ID!) { task(id: $id) { id status } }',
  tasks: 'query($planId: ID!) { tasks(planId: $planId) { id } }',
};

const probes: Probe[] = [
  { label: 'organization', document: ops.organization, variables: (_o, f) => ({ id: f.s.organizationId }), expected: 'null' },
  // An unknown organization's credentials are NOT_FOUND, a foreign one's must be the same.
  { label: 'credentials(organizationId)', document: ops.credentials, variables: (_o, f) => ({ organizationId: f.s.organizationId }), expected: 'NOT_FOUND' },
  { label: 'plan', document: ops.plan, variables: (_o, f) => ({ id: f.s.planId }), expected: 'null' },
  { label: 'plans(organizationId)', document: ops.plans, variables: (_o, f) => ({ organizationId: f.s.organizationId }), expected: 'empty' },
  {
    label: 'planCredentialsAsOf',
    document: ops.planCredentialsAsOf,
    variables: (_o, f) => ({ planId: f.s.planId, at: new Date().toISOString() }),
    expected: 'NOT_FOUND',
  },
  {
    label: 'auditLog filtered by organizationId',
    document: ops.auditLog,
    variables: (_o, f) => ({ filter: { organizationId: f.s.organizationId } }),
    expected: 'empty',
  },
  { label: 'auditLog filtered by planId', document: ops.auditLog, variables: (_o, f) => ({ filter: { planId: f.s.planId } }), expected: 'empty' },
  {
    label: 'auditLog filtered by credentialId',
    document: ops.auditLog,
    variables: (_o, f) => ({ filter: { credentialId: f.s.credentialIds[0] } }),
    expected: 'empty',
  },
  { label: 'auditLog filtered by actorId', document: ops.auditLog, variables: (_o, f) => ({ filter: { actorId: f.spareTokenId } }), expected: 'empty' },
  {
    label: 'changePassword',
    document: ops.changePassword,
    variables: (_o, f) => ({ id: f.s.passwordId, input: { secret: secretValue('stolen'), description: 'mine now' } }),
    expected: 'NOT_FOUND',
  },
  { label: 'deletePassword', document: ops.deletePassword, variables: (_o, f) => ({ id: f.sparePasswordId }), expected: 'NOT_FOUND' },
  {
    label: 'updateOrganizationSettings',
    document: ops.updateOrganizationSettings,
    variables: (_o, f) => ({ id: f.s.organizationId, input: { protectGroups: true } }),
    expected: 'NOT_FOUND',
  },
  {
    label: 'changeDefaultDevice of a foreign organization',
    document: ops.changeDefaultDevice,
    variables: (o, f) => ({ id: f.s.organizationId, deviceId: o.s.deviceId }),
    expected: 'NOT_FOUND',
  },
  {
    label: 'changeDefaultDevice to a foreign device',
    document: ops.changeDefaultDevice,
    variables: (o, f) => ({ id: o.s.organizationId, deviceId: f.s.deviceId }),
    expected: 'NOT_FOUND',
  },
  { label: 'removeOrganization', document: ops.removeOrganization, variables: (_o, f) => ({ id: f.s.organizationId }), expected: 'NOT_FOUND' },
  {
    label: 'addCredential to a foreign organization',
    document: ops.addCredential,
    variables: (o, f) => ({ input: { organizationId: f.s.organizationId, login: fresh('bot'), passwordId: o.sparePasswordId } }),
    expected: 'NOT_FOUND',
  },
  {
    label: 'addCredential with a foreign password',
    document: ops.addCredential,
    variables: (o, f) => ({ input: { organizationId: o.s.organizationId, login: fresh('bot'), passwordId: f.sparePasswordId } }),
    expected: 'NOT_FOUND',
  },
  {
    label: 'addOrganization with a foreign password',
    document: ops.addOrganization,
    variables: (o, f) => ({ input: organizationInput(f.sparePasswordId, o.s.deviceId) }),
    expected: 'NOT_FOUND',
  },
  {
    label: 'addOrganization on a foreign device',
    document: ops.addOrganization,
    variables: (o, f) => ({ input: organizationInput(o.sparePasswordId, f.s.deviceId) }),
    expected: 'NOT_FOUND',
  },
  {
    label: 'createPlan for a foreign organization',
    document: ops.createPlan,
    variables: (_o, f) => ({ input: { organizationId: f.s.organizationId, name: fresh('plan') } }),
    expected: 'NOT_FOUND',
  },
  { label: 'deletePlan', document: ops.deletePlan, variables: (_o, f) => ({ id: f.s.planId }), expected: 'NOT_FOUND' },
  {
    label: 'setPlanAdditionalCredentials',
    document: ops.setPlanAdditionalCredentials,
    variables: (_o, f) => ({ planId: f.s.planId, enabled: false }),
    expected: 'NOT_FOUND',
  },
  {
    label: 'togglePlanCredential of a foreign plan',
    document: ops.togglePlanCredential,
    variables: (_o, f) => ({ planId: f.s.planId, credentialId: f.s.credentialIds[1], enabled: true }),
    expected: 'NOT_FOUND',
  },
  {
    label: 'togglePlanCredential of an own plan with a foreign credential',
    document: ops.togglePlanCredential,
    variables: (o, f) => ({ planId: o.s.planId, credentialId: f.s.credentialIds[1], enabled: true }),
    expected: 'NOT_FOUND',
  },
  {
    label: 'updatePlanCredentials of a foreign plan',
    document: ops.updatePlanCredentials,
    variables: (_o, f) => ({
      planId: f.s.planId,
      input: { additionalCredentialsEnabled: false, credentials: [{ credentialId: f.s.credentialIds[1], enabled: true }] },
    }),
    expected: 'NOT_FOUND',
  },
  {
    label: 'updatePlanCredentials of an own plan with a foreign credential',
    document: ops.updatePlanCredentials,
    variables: (o, f) => ({ planId: o.s.planId, input: { credentials: [{ credentialId: f.s.credentialIds[1], enabled: true }] } }),
    expected: 'NOT_FOUND',
  },
  { label: 'removeCredential', document: ops.removeCredential, variables: (_o, f) => ({ id: f.s.credentialIds[1] }), expected: 'NOT_FOUND' },
  { label: 'revokeApiToken', document: ops.revokeApiToken, variables: (_o, f) => ({ id: f.spareTokenId }), expected: 'NOT_FOUND' },
  { label: 'verifyOrganization', document: ops.verifyOrganization, variables: (_o, f) => ({ id: f.s.organizationId }), expected: 'NOT_FOUND' },
  { label: 'verifyCredential', document: ops.verifyCredential, variables: (_o, f) => ({ id: f.s.credentialIds[0] }), expected: 'NOT_FOUND' },
  { label: 'syncRepositories', document: ops.syncRepositories, variables: (_o, f) => ({ id: f.s.organizationId }), expected: 'NOT_FOUND' },
  { label: 'repositories(organizationId)', document: ops.repositories, variables: (_o, f) => ({ organizationId: f.s.organizationId }), expected: 'NOT_FOUND' },
  { label: 'repositorySync', document: ops.repositorySync, variables: (_o, f) => ({ id: f.syncId }), expected: 'null' },
  { label: 'protectRepository', document: ops.protectRepository, variables: (_o, f) => ({ id: f.repositoryId }), expected: 'NOT_FOUND' },
  { label: 'unprotectRepository', document: ops.unprotectRepository, variables: (_o, f) => ({ id: f.repositoryId }), expected: 'NOT_FOUND' },
  { label: 'authorizeOrganization', document: ops.authorizeOrganization, variables: (_o, f) => ({ id: f.s.organizationId }), expected: 'NOT_FOUND' },
  { label: 'runPlan', document: taskOps.runPlan, variables: (_o, f) => ({ planId: f.s.planId }), expected: 'NOT_FOUND' },
  { label: 'task', document: taskOps.task, variables: (_o, f) => ({ id: f.taskId }), expected: 'null' },
  { label: 'tasks(planId)', document: taskOps.tasks, variables: (_o, f) => ({ planId: f.s.planId }), expected: 'NOT_FOUND' },
];

/** The one field a probe's document selects. */
const fieldOf = (document: string) => /\{\s*(\w+)/.exec(document)![1];

const LISTS = {
  organizations: ops.organizations,
  plans: ops.plans,
  passwords: ops.passwords,
  devices: ops.devices,
  apiTokens: ops.apiTokens,
  auditLog: ops.auditLog,
};

async function lists(api: TestApi, token: string): Promise<Record<keyof typeof LISTS, any[]>> {
  const entries = await Promise.all(
    Object.entries(LISTS).map(async ([name, document]) => {
      const data = await api.ok(token, document, name === 'auditLog' ? { first: 500 } : {});
      return [name, name === 'auditLog' ? data.auditLog.edges.map((edge: any) => edge.node) : data[name]] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<keyof typeof LISTS, any[]>;
}

/** How many events the tenant's history holds, as its ADMIN reads it. */
async function historyLength(api: TestApi, token: string): Promise<number> {
  let count = 0;
  let after: string | null = null;
  for (;;) {
    const { auditLog }: any = await api.ok(
      token,
      'query($after: String) { auditLog(first: 500, after: $after) { edges { cursor } pageInfo { hasNextPage endCursor } } }',
      { after },
    );
    count += auditLog.edges.length;
    if (!auditLog.pageInfo.hasNextPage) return count;
    after = auditLog.pageInfo.endCursor;
  }
}

const leaked = (value: unknown, foreign: Tenant) => {
  const text = JSON.stringify(value ?? null);
  return [...foreign.ids, ...foreign.words].filter((item) => text.includes(item));
};

for (const store of apiStores) {
  describe(`tenant isolation over HTTP and WebSocket, on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    let home: Tenant;
    let other: Tenant;

    async function tenant(name: string, token: string, label: string): Promise<Tenant> {
      const s = await buildScenario(api, token, label);
      api.gitlab.addProject(`${label}/platform`, `${label}-project`);
      await api.service.app.jobs.idle();
      const sync = (await api.ok(token, ops.syncRepositories, { id: s.organizationId })).syncRepositories;
      await api.service.app.jobs.idle();
      const { repositories } = await api.ok(token, ops.repositories, { organizationId: s.organizationId });
      await api.ok(token, ops.protectRepository, { id: repositories.edges[0].node.id });
      const run = (await api.ok(token, taskOps.runPlan, { planId: s.planId })).runPlan;
      await api.service.app.jobs.idle();
      const operator = (await api.ok(token, ops.createApiToken, { name: `${label} operator`, role: 'OPERATOR' })).createApiToken;
      const spare = await api.ok(operator.token, ops.storePassword, { input: { name: `${label} spare`, secret: secretValue(`${label}-spare`) } });
      const { me } = await api.ok(token, ops.me);
      const own = await lists(api, token);
      // The default tenant's id is the word "default", which any text may hold: only issued ids are looked for.
      const ids = [...Object.values(own).flatMap((items) => items.map((item) => item.id)), ...s.credentialIds, me.tenant.id].filter((id) => UUID.test(id));
      const words = [...s.secrets, `${label}/platform`, `${label}-admin`, `${label}-bot1`, `${label} nightly`, `${label} spare`];
      return {
        name,
        token,
        s,
        sparePasswordId: spare.storePassword.id,
        spareTokenId: operator.principal.id,
        adminId: me.id,
        repositoryId: repositories.edges[0].node.id,
        syncId: sync.id,
        taskId: run.id,
        ids: [...ids, sync.id, repositories.edges[0].node.id, run.id],
        words,
      };
    }

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage);
      home = await tenant('default', api.rootToken, 'acme');
      const { createTenant } = await api.ok(api.rootToken, ops.createTenant, { name: 'other' });
      other = await tenant('other', createTenant.token, 'globex');
      await api.service.app.jobs.idle();
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    const directions = () =>
      [
        ['other', 'default', () => [other, home]],
        ['default', 'other', () => [home, other]],
      ] as const;
    const cases = probes.flatMap((probe) => directions().map(([from, to, pair]) => [probe.label, from, to, probe, pair] as const));

    it.each(cases)(
      "%s naming an object of the other tenant, as %s's ADMIN about %s: nothing found, nothing written",
      async (_label, _from, _to, probe, pair) => {
        const [own, foreign] = pair();
        const before = [await historyLength(api, home.token), await historyLength(api, other.token)];
        const response: GraphQLResponse = await api.request(own.token, probe.document, probe.variables(own, foreign));
        const field = fieldOf(probe.document);
        const answer = response.data?.[field];
        if (probe.expected === 'NOT_FOUND') {
          expect(response.errors?.map((error) => error.extensions?.code)).toEqual(['NOT_FOUND']);
        } else {
          expect(response.errors).toBeUndefined();
          expect(probe.expected === 'null' ? answer : (answer.edges ?? answer)).toEqual(probe.expected === 'null' ? null : []);
        }
        // Errors name the id that was asked for and nothing else of the other tenant.
        expect(leaked(response.data, foreign)).toEqual([]);
        expect(leaked(response.errors, { ...foreign, ids: [] })).toEqual([]);
        expect([await historyLength(api, home.token), await historyLength(api, other.token)]).toEqual(before);
      },
    );

    it.each(probes.filter((probe) => probe.expected === 'NOT_FOUND').map((probe) => [probe.label, probe] as const))(
      '%s answers a foreign id exactly as an id that was never issued',
      async (_label, probe) => {
        const unknown: Tenant = {
          ...home,
          s: {
            ...home.s,
            organizationId: UNKNOWN_ID,
            planId: UNKNOWN_ID,
            deviceId: UNKNOWN_ID,
            passwordId: UNKNOWN_ID,
            credentialIds: [UNKNOWN_ID, UNKNOWN_ID],
          },
          sparePasswordId: UNKNOWN_ID,
          spareTokenId: UNKNOWN_ID,
          repositoryId: UNKNOWN_ID,
          syncId: UNKNOWN_ID,
        };
        const codes = async (foreign: Tenant) =>
          (await api.request(other.token, probe.document, probe.variables(other, foreign))).errors?.map((error) => error.extensions?.code);
        expect(await codes(home)).toEqual(await codes(unknown));
      },
    );

    it.each(directions())("lists of %s's tenant show nothing of %s's", async (_from, _to, pair) => {
      const [own, foreign] = pair();
      const mine = await lists(api, own.token);
      for (const items of Object.values(mine)) expect(items.length).toBeGreaterThan(0);
      // The root administrator creates every tenant, so a new tenant's first event names it as the actor.
      const creator = own === other ? [home.adminId] : [];
      const foreignIds = foreign.ids.filter((id) => !creator.includes(id));
      expect(leaked(mine, { ...foreign, ids: foreignIds })).toEqual([]);
    });

    it.each(directions())("verifying the audit log as %s's tenant tells nothing of what %s's tenant writes", async (_from, _to, pair) => {
      const [own, foreign] = pair();
      const before = await api.ok(own.token, ops.verifyAuditLog);
      await api.ok(foreign.token, ops.registerDevice, { name: fresh(`${foreign.name}-device`) });
      // A count that grows with the other tenant's writes would let one tenant watch another's activity.
      expect(await api.ok(own.token, ops.verifyAuditLog)).toEqual(before);
      expect(before.verifyAuditLog.checked).toBe(await historyLength(api, own.token));
    });

    it.each(directions())("an auditEvents subscription of %s's tenant receives nothing of %s's", async (_from, _to, pair) => {
      const [own, foreign] = pair();
      const subscription = listen<{ auditEvents: { type: string; data: Record<string, any> } }>(api.ws(own.token), ops.auditEvents);
      const deviceName = (tenant: Tenant) => `${tenant.name}-device-${fresh('d')}`;
      const ownDevice = deviceName(own);
      // The feed starts where the log ends once subscribed: keep writing in the own tenant until something arrives,
      // with a foreign write before each own one, so that a foreign event would have been delivered first.
      const foreignDevices: string[] = [];
      await eventually(
        async () => {
          const foreignDevice = deviceName(foreign);
          foreignDevices.push(foreignDevice);
          await api.ok(foreign.token, ops.registerDevice, { name: foreignDevice });
          if (subscription.received.length === 0) await api.ok(own.token, ops.registerDevice, { name: `${ownDevice}-${foreignDevices.length}` });
          expect(subscription.received.some((event) => event.auditEvents.data.name?.startsWith(ownDevice))).toBe(true);
        },
        20000,
        250,
      );
      subscription.stop();
      expect(subscription.errors).toEqual([]);
      const delivered = JSON.stringify(subscription.received);
      expect(foreignDevices.filter((name) => delivered.includes(name))).toEqual([]);
      expect(leaked(subscription.received, foreign)).toEqual([]);
    });
  });
}
