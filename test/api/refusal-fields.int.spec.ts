import { apiStores, listen, type GraphQLResponse, type TestApi } from '../support/api-server';
import { useTestApi } from '../support/use-test-api';
import { eventually } from '../support/eventually';
import { buildScenario, ops, secretValue, type Scenario } from '../support/scenario';

/** A well-formed id that names nothing. */
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';
/** An id with a right-to-left override and a terminal escape in it. */
const HIDDEN_ID = 'snap\u202Eshot\u001b[31m';
const restoreSnapshot = 'mutation($input: RestoreSnapshotInput!) { restoreSnapshot(input: $input) { id } }';
const updatePlanBackupSettings = 'mutation($planId: ID!, $input: PlanBackupSettingsInput!) { updatePlanBackupSettings(planId: $planId, input: $input) { id } }';
const addAuditDestination = 'mutation($input: AddAuditDestinationInput!) { addAuditDestination(input: $input) { id } }';
const addNotificationChannel = 'mutation($input: AddNotificationChannelInput!) { addNotificationChannel(input: $input) { id } }';

/**
 * A command its rules refuse (beyond the input's shape, which class-validator checks) names the
 * part of the input at fault in extensions.field, as the input's checks name theirs, so that a
 * form can show the message by its field (a reference to nothing, a name already taken too); and
 * writes nothing.
 */
describe.each(apiStores)('refusals of the rules name the field at fault, on %s', (store) => {
  const running = useTestApi(store);
  let api: TestApi;
  let s: Scenario;

  beforeAll(async () => {
    api = running();
    s = await buildScenario(api, api.rootToken, 'fields');
    // What the conflicts below meet.
    await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: 'fields plan' } });
    await api.ok(api.rootToken, ops.registerDevice, { name: 'fields device' });
    await api.ok(api.rootToken, ops.createApiToken, { name: 'fields viewer', role: 'VIEWER' });
    await api.ok(api.rootToken, addAuditDestination, { input: { name: 'fields siem', url: 'https://siem.example.com/in', passwordId: s.passwordId } });
    await api.service.app.jobs.idle();
  });

  const head = () => api.service.backplane.store.headPosition();
  const organization = (input: Record<string, unknown>) => ({
    input: {
      name: 'fields/other',
      gitlabUrl: api.gitlab.url,
      authMethod: 'TOKEN',
      login: 'owner',
      passwordId: s.passwordId,
      repositoriesSync: { intervalMinutes: 60 },
      defaultDeviceId: s.deviceId,
      ...input,
    },
  });

  const cases: [string, string, () => Record<string, unknown>, string, string][] = [
    [
      'an organization whose GitLab is not https',
      ops.addOrganization,
      () => organization({ gitlabUrl: 'ftp://gitlab.example.com' }),
      'BAD_USER_INPUT',
      'gitlabUrl',
    ],
    ["an organization whose name is no group's path", ops.addOrganization, () => organization({ name: 'not a path!' }), 'BAD_USER_INPUT', 'name'],
    ['an organization signing in with a token and no login', ops.addOrganization, () => organization({ login: null }), 'BAD_USER_INPUT', 'login'],
    [
      'an organization syncing on times and an interval',
      ops.addOrganization,
      () => organization({ repositoriesSync: { times: ['09:00'], intervalMinutes: 60 } }),
      'BAD_USER_INPUT',
      'repositoriesSync',
    ],
    [
      'a credential whose login no GitLab account can have',
      ops.addCredential,
      () => ({ input: { organizationId: s.organizationId, login: 'a/b', passwordId: s.passwordId } }),
      'BAD_USER_INPUT',
      'login',
    ],
    [
      'an organization of a group already added',
      ops.addOrganization,
      () => organization({ name: 'fields/platform', login: 'fields-admin' }),
      'CONFLICT',
      'name',
    ],
    ['a plan of no organization', ops.createPlan, () => ({ input: { organizationId: NO_SUCH_ID, name: 'orphan' } }), 'NOT_FOUND', 'organizationId'],
    [
      'a credential whose token is no password entry',
      ops.addCredential,
      () => ({ input: { organizationId: s.organizationId, login: 'bot9', passwordId: NO_SUCH_ID } }),
      'NOT_FOUND',
      'passwordId',
    ],
    ['an organization on no device', ops.addOrganization, () => organization({ defaultDeviceId: NO_SUCH_ID }), 'NOT_FOUND', 'defaultDeviceId'],
    ['a plan named as another', ops.createPlan, () => ({ input: { organizationId: s.organizationId, name: 'fields plan' } }), 'CONFLICT', 'name'],
    [
      'a schedule on times and an interval',
      updatePlanBackupSettings,
      () => ({ planId: s.planId, input: { schedule: { times: ['09:00'], intervalMinutes: 60 } } }),
      'BAD_USER_INPUT',
      'schedule',
    ],
    [
      'a toggle expecting version -1',
      ops.togglePlanCredential,
      () => ({ planId: s.planId, credentialId: s.credentialIds[1], enabled: true, v: -1 }),
      'BAD_USER_INPUT',
      'expectedVersion',
    ],
    ['a password change that changes nothing', ops.changePassword, () => ({ id: s.passwordId, input: {} }), 'BAD_USER_INPUT', 'secret'],
    ['a password entry named as another', ops.storePassword, () => ({ input: { name: 'fields token 0', secret: secretValue('again') } }), 'CONFLICT', 'name'],
    ['an API token named as an active one', ops.createApiToken, () => ({ name: 'fields viewer', role: 'VIEWER' }), 'CONFLICT', 'name'],
    ['a device named as another', ops.registerDevice, () => ({ name: 'fields device' }), 'CONFLICT', 'name'],
    ['a licence of -1 seats', ops.setLicenseSeats, () => ({ count: -1 }), 'BAD_USER_INPUT', 'count'],
    [
      'an audit destination over plain http',
      addAuditDestination,
      () => ({ input: { name: 'siem', url: 'http://siem.example.com/in', passwordId: s.passwordId } }),
      'BAD_USER_INPUT',
      'url',
    ],
    [
      'an audit destination for an unknown event type',
      addAuditDestination,
      () => ({ input: { name: 'siem', url: 'https://siem.example.com/in', passwordId: s.passwordId, eventTypes: ['NoSuchEvent'] } }),
      'BAD_USER_INPUT',
      'eventTypes',
    ],
    [
      'a notification channel with a url and an e-mail',
      addNotificationChannel,
      () => ({ input: { name: 'ops', url: 'https://chat.example.com/hook', email: 'ops@example.com', kinds: ['CREDENTIAL_REVOKED'] } }),
      'BAD_USER_INPUT',
      'url',
    ],
    [
      'a notification channel to no e-mail address',
      addNotificationChannel,
      () => ({ input: { name: 'ops', email: 'nobody', kinds: ['CREDENTIAL_REVOKED'] } }),
      'BAD_USER_INPUT',
      'email',
    ],
    ['a notification channel to nowhere', addNotificationChannel, () => ({ input: { name: 'ops', kinds: ['CREDENTIAL_REVOKED'] } }), 'BAD_USER_INPUT', 'url'],
    [
      'an audit destination for no event type',
      addAuditDestination,
      () => ({ input: { name: 'siem', url: 'https://siem.example.com/in', passwordId: s.passwordId, eventTypes: [] } }),
      'BAD_USER_INPUT',
      'eventTypes',
    ],
    [
      'an audit destination named as another',
      addAuditDestination,
      () => ({ input: { name: 'fields siem', url: 'https://siem.example.com/in', passwordId: s.passwordId } }),
      'CONFLICT',
      'name',
    ],
  ];

  it.each(cases)('refuses %s, naming its field, and writes nothing', async (_what, query, variables, code, field) => {
    const before = await head();
    const response: GraphQLResponse = await api.request(api.rootToken, query, variables());
    expect(response.errors).toHaveLength(1);
    expect(response.errors?.[0]?.extensions).toEqual({ code, field });
    expect(await head()).toBe(before);
  });

  it.each([
    ['a restore', restoreSnapshot, { input: { snapshotId: HIDDEN_ID, target: 'ARCHIVE' } }, 'snapshotId'],
    ['a plan', ops.createPlan, { input: { organizationId: HIDDEN_ID, name: 'hidden' } }, 'organizationId'],
  ])("quotes an id that names nothing in %s's refusal without its hidden characters", async (_what, query, variables, field) => {
    const response: GraphQLResponse = await api.request(api.rootToken, query, variables);
    expect(response.errors?.[0]?.extensions).toEqual({ code: 'NOT_FOUND', field });
    expect(response.errors?.[0]?.message).toContain('snap?shot?[31m');
    // The override would come back as itself, the escape as JSON writes it.
    expect(JSON.stringify(response)).not.toMatch(/\u202e|\\u001b/i);
  });

  it('names the field over the WebSocket too', async () => {
    const before = await head();
    const answer = listen(api.ws(api.rootToken), ops.registerDevice, { name: 'fields device' });
    await eventually(() => expect(answer.errors).toHaveLength(1));
    expect(answer.errors).toEqual([expect.objectContaining({ extensions: { code: 'CONFLICT', field: 'name' } })]);
    expect(answer.received).toEqual([]);
    expect(await head()).toBe(before);
  });
});
