import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, parse, type GraphQLObjectType, type OperationDefinitionNode } from 'graphql';
import { apiStores, listen, startTestApi, testStorage, type GraphQLResponse, type TestApi, type TestStorage } from '../support/api-server';
import { SYSTEM_ACTOR } from '../../src/app/principal';
import { eventually } from '../support/eventually';
import { GitLabDouble } from '../support/gitlab-double';
import { gitlabAccount, gitlabGroup } from '../support/gitlab-accounts';
import { buildScenario, ops, secretValue, type Scenario } from '../support/scenario';

type Role = 'ADMIN' | 'OPERATOR' | 'AUDITOR' | 'VIEWER';
const ROLES: Role[] = ['ADMIN', 'OPERATOR', 'AUDITOR', 'VIEWER'];
const readers = ROLES;
const operators: Role[] = ['ADMIN', 'OPERATOR'];
const auditors: Role[] = ['ADMIN', 'AUDITOR'];
const admins: Role[] = ['ADMIN'];

interface Fixture {
  api: TestApi;
  s: Scenario;
  /** Unique per call, so that names never collide between rows and roles. */
  unique(prefix: string): string;
}

interface Row {
  name: string;
  document: string;
  /** Called once per role: a destroying operation gets an object of its own each time. */
  variables(f: Fixture): Promise<Record<string, unknown>> | Record<string, unknown>;
  allowed: Role[];
  /** A mutation whose record is kept outside the log (a signed digest): how many of them there are now. */
  outsideLog?(f: Fixture): Promise<number>;
}

const root = (f: Fixture) => f.api.rootToken;
const auditDigestCount = async (f: Fixture) =>
  (await f.api.ok(root(f), 'query { auditDigests(first: 500) { edges { cursor } } }')).auditDigests.edges.length as number;
const newPassword = async (f: Fixture) =>
  (await f.api.ok(root(f), ops.storePassword, { input: { name: f.unique('pw'), secret: secretValue('role') } })).storePassword.id as string;
const newDevice = async (f: Fixture) => (await f.api.ok(root(f), ops.registerDevice, { name: f.unique('device') })).registerDevice.id as string;
/** A password entry holding the token of a new GitLab account, for a credential. */
const newAccount = async (f: Fixture) => {
  const login = f.unique('bot');
  const secret = secretValue('role');
  const { storePassword } = await f.api.ok(root(f), ops.storePassword, { input: { name: f.unique('pw'), secret } });
  gitlabAccount(f.api.gitlab, login, secret);
  return { login, passwordId: storePassword.id as string };
};
const newOrganization = async (f: Fixture) =>
  (await f.api.ok(root(f), ops.addOrganization, { input: organizationInput(f, f.s.passwordId) })).addOrganization.id as string;
const newPlan = async (f: Fixture) =>
  (await f.api.ok(root(f), ops.createPlan, { input: { organizationId: f.s.organizationId, name: f.unique('plan') } })).createPlan.id as string;
const newCredential = async (f: Fixture) =>
  (await f.api.ok(root(f), ops.addCredential, { input: { organizationId: f.s.organizationId, ...(await newAccount(f)) } })).addCredential.id as string;
const planNow = async (f: Fixture) => (await f.api.ok(root(f), ops.plan, { id: f.s.planId })).plan;
// Each allowed call must change something, so that its events can be told apart from a refusal's none.
const switchedOn = async (f: Fixture) => (await planNow(f)).additionalCredentialsEnabled as boolean;
const credentialOn = async (f: Fixture) => (await planNow(f)).credentials.find((c: any) => c.credential.id === f.s.credentialIds[1]).enabled as boolean;

/** Another group on the GitLab double, with the scenario's main login (its token is the scenario's password entry). */
function organizationInput(f: Fixture, passwordId: string) {
  const name = `${f.unique('group')}/platform`;
  gitlabGroup(f.api.gitlab, name);
  return {
    name,
    gitlabUrl: f.api.gitlab.url,
    authMethod: 'TOKEN',
    login: 'acme-admin',
    passwordId,
    repositoriesSync: { intervalMinutes: 60 },
    defaultDeviceId: f.s.deviceId,
  };
}

let interval = 15;
let seats = 1000;

/** An SSO organization waiting for its sign-in. */
async function newPendingOrganization(f: Fixture): Promise<string> {
  const { passwordId: _password, login: _login, ...input } = organizationInput(f, f.s.passwordId);
  return (await f.api.ok(root(f), ops.addOrganization, { input: { ...input, authMethod: 'SSO' } })).addOrganization.id;
}

/** A project new on GitLab, synced into the scenario's organization: its repository id. */
async function newRepository(f: Fixture, protect = false): Promise<string> {
  const path = f.unique('project');
  f.api.gitlab.addProject('acme/platform', path);
  await f.api.ok(root(f), 'mutation($id: ID!) { syncRepositories(organizationId: $id) { id } }', { id: f.s.organizationId });
  await f.api.service.app.jobs.idle();
  const { repositories } = await f.api.ok(root(f), 'query($id: ID!) { repositories(organizationId: $id, first: 500) { edges { node { id fullPath } } } }', {
    id: f.s.organizationId,
  });
  const id = repositories.edges.find((edge: any) => edge.node.fullPath === `acme/platform/${path}`).node.id as string;
  if (protect) await f.api.ok(root(f), ops.protectRepository, { id });
  return id;
}

const taskOps = {
  runPlan: 'mutation($planId: ID!) { runPlan(planId: $planId) { id status } }',
  task: 'query($id: ID!) { task(id: $id) { id status } }',
  tasks: 'query($planId: ID!) { tasks(planId: $planId) { id } }',
  taskProgress: 'subscription($taskId: ID!) { taskProgress(taskId: $taskId) { id status repositoriesDone } }',
};
/** A task of a new plan, run as root. */
const newTask = async (f: Fixture) => (await f.api.ok(root(f), taskOps.runPlan, { planId: await newPlan(f) })).runPlan.id as string;

const snapshotOps = {
  verifySnapshot: 'mutation($id: ID!) { verifySnapshot(id: $id) { ok snapshot { id } } }',
  snapshot: 'query($id: ID!) { snapshot(id: $id) { id } }',
  snapshots: 'query($planId: ID) { snapshots(planId: $planId) { totalCount } }',
  storages: 'query { storages { id kind } }',
  restoreSnapshot: 'mutation($input: RestoreSnapshotInput!) { restoreSnapshot(input: $input) { id status } }',
  restore: 'query($id: ID!) { restore(id: $id) { id status } }',
  addStorage: 'mutation($input: AddStorageInput!) { addStorage(input: $input) { id kind } }',
  removeStorage: 'mutation($id: ID!) { removeStorage(id: $id) }',
  updatePlanBackupSettings: 'mutation($planId: ID!, $input: PlanBackupSettingsInput!) { updatePlanBackupSettings(planId: $planId, input: $input) { id } }',
  pruneSnapshots: 'mutation($planId: ID!) { pruneSnapshots(planId: $planId) }',
};
const destinationOps = {
  add: 'mutation($input: AddAuditDestinationInput!) { addAuditDestination(input: $input) { id } }',
  remove: 'mutation($id: ID!) { removeAuditDestination(id: $id) }',
  list: 'query { auditDestinations { id delivery { attempts } } }',
};
const channelOps = {
  add: 'mutation($input: AddNotificationChannelInput!) { addNotificationChannel(input: $input) { id } }',
  remove: 'mutation($id: ID!) { removeNotificationChannel(id: $id) }',
  list: 'query { notificationChannels { id delivery { pending } } }',
};
const snapshotsTaken = new WeakMap<Fixture, Promise<string>>();
/** A snapshot of a protected repository, taken by a run of a new plan (once: it is only read and verified). */
const aSnapshot = (f: Fixture) => {
  const taken =
    snapshotsTaken.get(f) ??
    (async () => {
      await newRepository(f, true);
      const taskId = await newTask(f);
      await f.api.service.app.jobs.idle();
      const { task } = await f.api.ok(root(f), 'query($id: ID!) { task(id: $id) { snapshots(first: 1) { edges { node { id } } } } }', { id: taskId });
      return task.snapshots.edges[0].node.id as string;
    })();
  snapshotsTaken.set(f, taken);
  return taken;
};

const mutations: Row[] = [
  {
    name: 'storePassword',
    document: ops.storePassword,
    variables: (f) => ({ input: { name: f.unique('pw'), secret: secretValue('role') } }),
    allowed: operators,
  },
  {
    name: 'changePassword',
    document: ops.changePassword,
    variables: (f) => ({ id: f.s.passwordId, input: { description: f.unique('described') } }),
    allowed: operators,
  },
  { name: 'deletePassword', document: ops.deletePassword, variables: async (f) => ({ id: await newPassword(f) }), allowed: operators },
  { name: 'registerDevice', document: ops.registerDevice, variables: (f) => ({ name: f.unique('device') }), allowed: operators },
  { name: 'addOrganization', document: ops.addOrganization, variables: (f) => ({ input: organizationInput(f, f.s.passwordId) }), allowed: operators },
  {
    name: 'updateOrganizationSettings',
    document: ops.updateOrganizationSettings,
    variables: (f) => ({ id: f.s.organizationId, input: { repositoriesSync: { intervalMinutes: ++interval } } }),
    allowed: operators,
  },
  {
    name: 'changeDefaultDevice',
    document: ops.changeDefaultDevice,
    variables: async (f) => ({ id: await newOrganization(f), deviceId: await newDevice(f) }),
    allowed: operators,
  },
  { name: 'removeOrganization', document: ops.removeOrganization, variables: async (f) => ({ id: await newOrganization(f) }), allowed: operators },
  {
    name: 'addCredential',
    document: ops.addCredential,
    variables: async (f) => ({ input: { organizationId: f.s.organizationId, ...(await newAccount(f)) } }),
    allowed: operators,
  },
  { name: 'removeCredential', document: ops.removeCredential, variables: async (f) => ({ id: await newCredential(f) }), allowed: operators },
  {
    name: 'createPlan',
    document: ops.createPlan,
    variables: (f) => ({ input: { organizationId: f.s.organizationId, name: f.unique('plan') } }),
    allowed: operators,
  },
  { name: 'deletePlan', document: ops.deletePlan, variables: async (f) => ({ id: await newPlan(f) }), allowed: operators },
  {
    name: 'setPlanAdditionalCredentials',
    document: ops.setPlanAdditionalCredentials,
    variables: async (f) => ({ planId: f.s.planId, enabled: !(await switchedOn(f)) }),
    allowed: operators,
  },
  {
    name: 'togglePlanCredential',
    document: ops.togglePlanCredential,
    variables: async (f) => ({ planId: f.s.planId, credentialId: f.s.credentialIds[1], enabled: !(await credentialOn(f)) }),
    allowed: operators,
  },
  {
    name: 'updatePlanCredentials',
    document: ops.updatePlanCredentials,
    variables: async (f) => ({ planId: f.s.planId, input: { credentials: [{ credentialId: f.s.credentialIds[1], enabled: !(await credentialOn(f)) }] } }),
    allowed: operators,
  },
  {
    name: 'updatePlanBackupSettings',
    document: snapshotOps.updatePlanBackupSettings,
    variables: async (f) => ({ planId: await newPlan(f), input: { keepLast: 3 } }),
    allowed: operators,
  },
  { name: 'pruneSnapshots', document: snapshotOps.pruneSnapshots, variables: async (f) => ({ planId: await newPlan(f) }), allowed: operators },
  { name: 'addStorage', document: snapshotOps.addStorage, variables: (f) => ({ input: { name: f.unique('storage'), kind: 'LOCAL' } }), allowed: admins },
  {
    name: 'removeStorage',
    document: snapshotOps.removeStorage,
    variables: async (f) => ({
      id: (await f.api.ok(root(f), snapshotOps.addStorage, { input: { name: f.unique('storage'), kind: 'LOCAL' } })).addStorage.id,
    }),
    allowed: admins,
  },
  {
    name: 'addAuditDestination',
    document: destinationOps.add,
    variables: async (f) => ({ input: { name: f.unique('siem'), url: 'https://siem.example.test/ingest', passwordId: await newPassword(f) } }),
    allowed: admins,
  },
  {
    name: 'removeAuditDestination',
    document: destinationOps.remove,
    variables: async (f) => ({
      id: (
        await f.api.ok(root(f), destinationOps.add, {
          input: { name: f.unique('siem'), url: 'https://siem.example.test/ingest', passwordId: await newPassword(f) },
        })
      ).addAuditDestination.id,
    }),
    allowed: admins,
  },
  {
    name: 'addNotificationChannel',
    document: channelOps.add,
    variables: (f) => ({ input: { name: f.unique('channel'), email: 'ops@example.test', kinds: ['TASK_FAILED'] } }),
    allowed: admins,
  },
  {
    name: 'removeNotificationChannel',
    document: channelOps.remove,
    variables: async (f) => ({
      id: (await f.api.ok(root(f), channelOps.add, { input: { name: f.unique('channel'), email: 'ops@example.test', kinds: ['TASK_FAILED'] } }))
        .addNotificationChannel.id,
    }),
    allowed: admins,
  },
  { name: 'createApiToken', document: ops.createApiToken, variables: (f) => ({ name: f.unique('token'), role: 'VIEWER' }), allowed: admins },
  {
    name: 'revokeApiToken',
    document: ops.revokeApiToken,
    variables: async (f) => ({ id: (await f.api.ok(root(f), ops.createApiToken, { name: f.unique('doomed'), role: 'VIEWER' })).createApiToken.principal.id }),
    allowed: admins,
  },
  { name: 'verifyOrganization', document: ops.verifyOrganization, variables: (f) => ({ id: f.s.organizationId }), allowed: operators },
  { name: 'verifyCredential', document: ops.verifyCredential, variables: (f) => ({ id: f.s.credentialIds[0] }), allowed: operators },
  { name: 'syncRepositories', document: ops.syncRepositories, variables: (f) => ({ id: f.s.organizationId }), allowed: operators },
  { name: 'protectRepository', document: ops.protectRepository, variables: async (f) => ({ id: await newRepository(f) }), allowed: operators },
  { name: 'unprotectRepository', document: ops.unprotectRepository, variables: async (f) => ({ id: await newRepository(f, true) }), allowed: operators },
  { name: 'setLicenseSeats', document: ops.setLicenseSeats, variables: () => ({ count: ++seats }), allowed: admins },
  { name: 'authorizeOrganization', document: ops.authorizeOrganization, variables: async (f) => ({ id: await newPendingOrganization(f) }), allowed: operators },
  // A plan of its own each time: a plan runs one task at a time. The runs before have ended, so that none writes during the next row.
  {
    name: 'runPlan',
    document: taskOps.runPlan,
    variables: async (f) => {
      await f.api.service.app.jobs.idle();
      return { planId: await newPlan(f) };
    },
    allowed: operators,
  },
  { name: 'verifySnapshot', document: snapshotOps.verifySnapshot, variables: async (f) => ({ id: await aSnapshot(f) }), allowed: operators },
  {
    name: 'restoreSnapshot',
    document: snapshotOps.restoreSnapshot,
    variables: async (f) => ({ input: { snapshotId: await aSnapshot(f), target: 'ARCHIVE' } }),
    allowed: operators,
  },
  {
    name: 'createAuditDigest',
    document: 'mutation { createAuditDigest { payload signature keyId } }',
    variables: () => ({}),
    allowed: admins,
    outsideLog: auditDigestCount,
  },
  // Only the root administrator creates tenants; no token a tenant issues is root, ADMIN included.
  { name: 'createTenant', document: ops.createTenant, variables: (f) => ({ name: f.unique('tenant') }), allowed: [] },
];

const queries: Row[] = [
  { name: 'me', document: ops.me, variables: () => ({}), allowed: readers },
  { name: 'devices', document: ops.devices, variables: () => ({}), allowed: readers },
  { name: 'passwords', document: ops.passwords, variables: () => ({}), allowed: readers },
  { name: 'organizations', document: ops.organizations, variables: () => ({}), allowed: readers },
  { name: 'organization', document: ops.organization, variables: (f) => ({ id: f.s.organizationId }), allowed: readers },
  { name: 'credentials', document: ops.credentials, variables: (f) => ({ organizationId: f.s.organizationId }), allowed: readers },
  { name: 'plans', document: ops.plans, variables: () => ({}), allowed: readers },
  { name: 'plan', document: ops.plan, variables: (f) => ({ id: f.s.planId }), allowed: readers },
  {
    name: 'planCredentialsAsOf',
    document: ops.planCredentialsAsOf,
    variables: (f) => ({ planId: f.s.planId, at: new Date().toISOString() }),
    allowed: auditors,
  },
  { name: 'auditLog', document: ops.auditLog, variables: () => ({ first: 5 }), allowed: auditors },
  { name: 'verifyAuditLog', document: ops.verifyAuditLog, variables: () => ({}), allowed: auditors },
  { name: 'auditDigests', document: 'query { auditDigests(first: 5) { edges { cursor } } }', variables: () => ({}), allowed: auditors },
  { name: 'auditDestinations', document: destinationOps.list, variables: () => ({}), allowed: auditors },
  { name: 'notificationChannels', document: channelOps.list, variables: () => ({}), allowed: admins },
  { name: 'auditSigningKeys', document: 'query { auditSigningKeys { keyId publicKeyPem } }', variables: () => ({}), allowed: readers },
  { name: 'apiTokens', document: ops.apiTokens, variables: () => ({}), allowed: admins },
  { name: 'repositories', document: ops.repositories, variables: (f) => ({ organizationId: f.s.organizationId }), allowed: readers },
  { name: 'licenseSeats', document: ops.licenseSeats, variables: () => ({}), allowed: readers },
  { name: 'task', document: taskOps.task, variables: async (f) => ({ id: await newTask(f) }), allowed: readers },
  { name: 'tasks', document: taskOps.tasks, variables: (f) => ({ planId: f.s.planId }), allowed: readers },
  { name: 'snapshot', document: snapshotOps.snapshot, variables: async (f) => ({ id: await aSnapshot(f) }), allowed: readers },
  { name: 'snapshots', document: snapshotOps.snapshots, variables: (f) => ({ planId: f.s.planId }), allowed: readers },
  { name: 'storages', document: snapshotOps.storages, variables: () => ({}), allowed: readers },
  {
    name: 'restore',
    document: snapshotOps.restore,
    variables: async (f) => {
      const { restoreSnapshot } = await f.api.ok(root(f), snapshotOps.restoreSnapshot, { input: { snapshotId: await aSnapshot(f), target: 'ARCHIVE' } });
      return { id: restoreSnapshot.id };
    },
    allowed: readers,
  },
  {
    name: 'repositorySync',
    document: ops.repositorySync,
    variables: async (f) => ({
      id: (await f.api.ok(root(f), 'query($id: ID!) { organization(id: $id) { lastSync { id } } }', { id: f.s.organizationId })).organization.lastSync.id,
    }),
    allowed: readers,
  },
];

interface SubscriptionRow extends Row {
  /** A change, made as root, that the subscription delivers. */
  trigger(f: Fixture): Promise<unknown>;
}

const subscriptions: SubscriptionRow[] = [
  // The task as it stands is delivered at once: nothing needs to happen.
  {
    name: 'taskProgress',
    document: taskOps.taskProgress,
    variables: async (f) => ({ taskId: await newTask(f) }),
    allowed: readers,
    trigger: async () => undefined,
  },
  { name: 'auditEvents', document: ops.auditEvents, variables: () => ({}), allowed: auditors, trigger: (f) => newDevice(f) },
  {
    name: 'planCredentialToggled',
    document: ops.planCredentialToggled,
    variables: (f) => ({ planId: f.s.planId }),
    allowed: readers,
    trigger: async (f) =>
      f.api.ok(root(f), ops.togglePlanCredential, { planId: f.s.planId, credentialId: f.s.credentialIds[1], enabled: !(await credentialOn(f)) }),
  },
];

const everyOperation: Row[] = [...mutations, ...queries, ...subscriptions];

const cases = <R extends Row>(rows: R[]) =>
  rows.flatMap((row) => ROLES.map((role) => [row.name, role, row.allowed.includes(role) ? 'allowed' : 'FORBIDDEN', row] as const));

function rootField(document: string): string {
  const operation = parse(document).definitions[0] as OperationDefinitionNode;
  const field = operation.selectionSet.selections[0];
  return field.kind === 'Field' ? field.name.value : '';
}

function codes(response: GraphQLResponse): (string | undefined)[] {
  return (response.errors ?? []).map((error) => error.extensions?.code);
}

/** What a subscription answered with: errors arrive as a `next` with errors or as an `error` carrying a list. */
function subscriptionCodes(errors: unknown[]): unknown[] {
  return errors.flat().map((error) => (error as { extensions?: { code?: string } }).extensions?.code);
}

const HEAD = 'query($after: String) { auditLog(first: 500, after: $after) { edges { node { id actor { id } } } pageInfo { hasNextPage endCursor } } }';

/** Events of the tenant after `cursor` (all of them when it is null), and the cursor of the last. */
async function historyAfter(api: TestApi, cursor: string | null): Promise<{ events: { id: string; actor: { id: string } }[]; head: string | null }> {
  const events: { id: string; actor: { id: string } }[] = [];
  let head = cursor;
  for (;;) {
    const { auditLog } = await api.ok(api.rootToken, HEAD, { after: head });
    events.push(...auditLog.edges.map((edge: any) => edge.node));
    head = auditLog.pageInfo.endCursor;
    if (!auditLog.pageInfo.hasNextPage) return { events, head };
  }
}

describe('the role table', () => {
  const schema = buildSchema(readFileSync(join(__dirname, '../../schema/schema.graphql'), 'utf8'));
  const fieldsOf = (type: GraphQLObjectType | null | undefined) => Object.keys(type?.getFields() ?? {}).sort();

  it('has one row for every mutation, query and subscription of the schema', () => {
    expect(mutations.map((row) => row.name).sort()).toEqual(fieldsOf(schema.getMutationType()));
    expect(queries.map((row) => row.name).sort()).toEqual(fieldsOf(schema.getQueryType()));
    expect(subscriptions.map((row) => row.name).sort()).toEqual(fieldsOf(schema.getSubscriptionType()));
  });

  it.each(everyOperation.map((row) => [row.name, row] as const))('exercises %s with its own document', (name, row) => {
    expect(rootField(row.document)).toBe(name);
  });
});

for (const store of apiStores) {
  describe(`roles over HTTP and WebSocket, on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    let gitlab: GitLabDouble;
    let f: Fixture;
    const tokens = {} as Record<Role, { token: string; id: string }>;
    let revokedToken: string;
    let head: string | null = null;
    let rootId: string;
    const rootEvent = (event: { actor: { id: string } }) => event.actor.id === rootId;

    beforeAll(async () => {
      storage = await testStorage(store);
      // Registered on the GitLab double as an OAuth application, so that SSO organizations can be added.
      gitlab = await GitLabDouble.start();
      api = await startTestApi(storage, {
        gitlab,
        env: {
          BACKPLANE_GITLAB_OAUTH_CLIENT_ID: 'roles-client',
          BACKPLANE_GITLAB_OAUTH_CLIENT_SECRET: 'roles-client-secret',
          BACKPLANE_GITLAB_OAUTH_URL: gitlab.url,
        },
      });
      let counter = 0;
      f = { api, s: await buildScenario(api, api.rootToken), unique: (prefix) => `${prefix}-${++counter}` };
      rootId = (await api.ok(api.rootToken, ops.me)).me.id;
      for (const role of ROLES) {
        const { createApiToken } = await api.ok(api.rootToken, ops.createApiToken, { name: `${role.toLowerCase()} token`, role });
        tokens[role] = { token: createApiToken.token, id: createApiToken.principal.id };
      }
      const { createApiToken: revoked } = await api.ok(api.rootToken, ops.createApiToken, { name: 'revoked token', role: 'ADMIN' });
      await api.ok(api.rootToken, ops.revokeApiToken, { id: revoked.principal.id });
      revokedToken = revoked.token;
    });
    // Closing waits for the plan runs the table started to stop, which takes a while on a loaded machine.
    afterAll(async () => {
      await api?.close();
      await gitlab?.close();
      await storage?.dispose();
    }, 180_000);

    /**
     * The events written since the last call: the variables' set-up is taken as the starting point.
     * Background work (an organization's first repository sync) is let finish first, so that it
     * falls to the call that started it.
     */
    const written = async () => {
      await api.service.app.jobs.idle();
      const result = await historyAfter(api, head);
      head = result.head;
      return result.events;
    };

    it.each(cases(mutations))('%s as %s: %s', async (_name, role, outcome, row) => {
      const variables = await row.variables(f);
      await written();
      const kept = await row.outsideLog?.(f);
      const response = await api.request(tokens[role].token, row.document, variables);
      const events = await written();
      if (row.outsideLog) {
        // Nothing in the log either way: what an allowed call made is counted where it is kept.
        expect(events).toEqual([]);
        expect((await row.outsideLog(f)) - kept!).toBe(outcome === 'allowed' ? 1 : 0);
      }
      if (outcome === 'allowed') {
        expect(response.errors).toBeUndefined();
        // An answer, whatever it is (pruneSnapshots may answer 0).
        expect(response.data?.[row.name] ?? null).not.toBeNull();
        if (row.outsideLog) return;
        // What Backplane records itself as a consequence (what a first sync found) is its own; the rest is the caller's.
        const caller = events.filter((event) => event.actor.id !== SYSTEM_ACTOR.id);
        expect(caller.length).toBeGreaterThan(0);
        expect(caller.every((event) => event.actor.id === tokens[role].id)).toBe(true);
      } else {
        expect(codes(response)).toEqual(['FORBIDDEN']);
        expect(response.data).toBeNull();
        expect(events).toEqual([]);
      }
    });

    it('lets the root administrator create a tenant, which no other ADMIN may', async () => {
      const { createTenant } = await api.ok(api.rootToken, ops.createTenant, { name: f.unique('tenant') });
      expect(createTenant.principal).toMatchObject({ role: 'ADMIN', root: false });
      const { me } = await api.ok(createTenant.token, ops.me);
      const refused = await api.request(createTenant.token, ops.createTenant, { name: f.unique('tenant') });
      expect([me.role, codes(refused)]).toEqual(['ADMIN', ['FORBIDDEN']]);
    });

    it.each(cases(queries))('query %s as %s: %s', async (_name, role, outcome, row) => {
      const response = await api.request(tokens[role].token, row.document, await row.variables(f));
      if (outcome === 'allowed') {
        expect(response.errors).toBeUndefined();
        expect(response.data?.[row.name]).toBeTruthy();
      } else {
        expect(codes(response)).toEqual(['FORBIDDEN']);
        expect(response.data?.[row.name] ?? null).toBeNull();
      }
    });

    it.each(cases(subscriptions))('subscription %s as %s over graphql-ws: %s', async (_name, role, outcome, row) => {
      const subscription = listen(api.ws(tokens[role].token), row.document, await row.variables(f));
      try {
        if (outcome === 'allowed') {
          // A feed starts at the end once subscribed; keep changing things until one is delivered.
          await eventually(
            async () => {
              await row.trigger(f);
              expect(subscription.received.length).toBeGreaterThan(0);
            },
            20000,
            250,
          );
          expect(subscription.errors).toEqual([]);
        } else {
          await eventually(() => expect(subscription.errors.length).toBeGreaterThan(0));
          expect(subscriptionCodes(subscription.errors)).toEqual(['FORBIDDEN']);
          expect(subscription.received).toEqual([]);
        }
      } finally {
        subscription.stop();
      }
    });

    const anonymous: [string, () => string | null][] = [
      ['no token', () => null],
      ['an unknown token', () => 'bpk_garbage_0123456789abcdefghijklmnop'],
      ['a revoked token', () => revokedToken],
    ];

    it.each(anonymous)('answers every query and mutation with %s over HTTP UNAUTHENTICATED, writing nothing', async (_label, token) => {
      await written();
      const answers: Record<string, unknown> = {};
      for (const row of [...mutations, ...queries]) answers[row.name] = codes(await api.request(token(), row.document, await row.variables(f)));
      // The variables' set-up wrote as root, and Backplane recorded the first syncs of its organizations; nothing else may have.
      expect((await written()).filter((event) => !rootEvent(event) && event.actor.id !== SYSTEM_ACTOR.id)).toEqual([]);
      expect(answers).toEqual(Object.fromEntries([...mutations, ...queries].map((row) => [row.name, ['UNAUTHENTICATED']])));
    });

    it.each(anonymous)('refuses the connection_init of a subscriber with %s over graphql-ws (4403)', async (_label, token) => {
      for (const row of subscriptions) {
        const subscription = listen(api.ws(token()), row.document, await row.variables(f));
        try {
          await eventually(() => expect(subscription.errors.length).toBeGreaterThan(0));
          expect([row.name, subscription.errors.map((error) => (error as { code?: number }).code)]).toEqual([row.name, [4403]]);
          expect(subscription.received).toEqual([]);
        } finally {
          subscription.stop();
        }
      }
    });

    it('refuses an Authorization value that is not a bearer token', async () => {
      const response = await fetch(api.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${tokens.ADMIN.token}` },
        body: JSON.stringify({ query: ops.me }),
      });
      const body = (await response.json()) as GraphQLResponse;
      expect(codes(body)).toEqual(['UNAUTHENTICATED']);
    });
  });
}
