import { apiStores, startTestApi, testStorage, type GraphQLResponse, type TestApi, type TestStorage } from '../support/api-server';
import { buildScenario, ops, secretValue, type Scenario } from '../support/scenario';

/** Text PostgreSQL cannot store (NUL), and text that reads as something else than it is (controls, bidirectional overrides). */
const NUL = 'a\u0000b';
const DECEPTIVE = { newline: 'nightly\nbackup', escape: 'bot\u001b[31m', c1: 'bot\u0085', rlo: 'bot\u202Egpj.exe', isolate: 'bot\u2066x\u2069' };

describe.each(apiStores)('input PostgreSQL cannot hold, or that hides what it is, on %s', (store) => {
  let storage: TestStorage;
  let api: TestApi;
  let s: Scenario;

  beforeAll(async () => {
    storage = await testStorage(store);
    api = await startTestApi(storage);
    s = await buildScenario(api, api.rootToken, 'hygiene');
    await api.service.app.jobs.idle();
  });
  afterAll(async () => {
    await api?.close();
    await storage?.dispose();
  });

  const head = () => api.service.backplane.store.headPosition();
  /** The request is refused as BAD_USER_INPUT naming the field, and writes nothing; the answer, for more checks. */
  const refused = async (query: string, variables: Record<string, unknown>, field: RegExp): Promise<GraphQLResponse> => {
    const before = await head();
    const response: GraphQLResponse = await api.request(api.rootToken, query, variables);
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(`${response.errors?.[0]?.message} ${JSON.stringify(response.errors?.[0]?.extensions)}`).toMatch(field);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test asserts that no NUL character, raw or escaped, reaches the response
    expect(JSON.stringify(response)).not.toMatch(/\\u0000|\u0000/);
    expect(await head()).toBe(before);
    return response;
  };

  it.each([
    ['device name', ops.registerDevice, () => ({ name: NUL }), /name/],
    ['password name', ops.storePassword, () => ({ input: { name: NUL, secret: secretValue('nul') } }), /name/],
    ['password description', ops.storePassword, () => ({ input: { name: 'nul description', secret: secretValue('nul'), description: NUL } }), /description/],
    ['plan name', ops.createPlan, () => ({ input: { organizationId: s.organizationId, name: NUL } }), /name/],
    ['tenant name', ops.createTenant, () => ({ name: NUL }), /name/],
    ['token name', ops.createApiToken, () => ({ name: NUL, role: 'VIEWER' }), /name/],
    ['an id', ops.deletePlan, () => ({ id: NUL }), /id/],
  ])('refuses a NUL in a %s', async (_what, query, variables, field) => {
    await refused(query, variables(), field);
  });

  it.each([
    ['auditLog(after:)', ops.auditLog, { after: NUL }, /after/],
    ['an auditLog filter id', ops.auditLog, { filter: { credentialId: NUL } }, /credentialId/],
    ['an auditLog event type', ops.auditLog, { filter: { types: ['PlanCredentialToggled', NUL] } }, /types/],
    ['repositories(after:)', ops.repositories, { organizationId: '00000000-0000-4000-8000-000000000000', after: NUL }, /after/],
  ])('refuses a NUL in %s', async (_what, query, variables, field) => {
    await refused(query, variables, field);
  });

  it.each([
    ['a device name', ops.registerDevice, () => ({ name: 'dev\ud800' }), /^input\.name must not contain an unpaired UTF-16 surrogate/],
    [
      'a password secret',
      ops.storePassword,
      () => ({ input: { name: 'lone surrogate', secret: `${secretValue('surrogate')}\udc00` } }),
      /^input\.secret must not contain an unpaired/,
    ],
    ['a plan name', ops.createPlan, () => ({ input: { organizationId: s.organizationId, name: '\udfffplan' } }), /^input\.name must not contain an unpaired/],
    ['an auditLog event type', ops.auditLog, () => ({ filter: { types: ['PlanCreated\ud83d'] } }), /^filter\.types\[0\] must not contain an unpaired/],
  ])('refuses an unpaired surrogate in %s, naming the argument', async (_what, query, variables, field) => {
    await refused(query, variables(), field);
  });

  it.each([
    ['auditLog from', ops.auditLog, { filter: { from: '0000-01-01T00:00:00Z' } }, /from/],
    ['auditLog to', ops.auditLog, { filter: { to: '0000-12-31T23:59:59Z' } }, /to/],
    ['planCredentialsAsOf at', ops.planCredentialsAsOf, () => ({ planId: s.planId, at: '0000-06-01T00:00:00Z' }), /at/],
  ])('refuses year 0000 in %s', async (_what, query, variables, field) => {
    await refused(query, typeof variables === 'function' ? variables() : variables, field);
  });

  it('still answers for the first and the last instants it can store', async () => {
    const page = await api.ok(api.rootToken, ops.auditLog, { filter: { from: '0001-01-01T00:00:00Z', to: '9999-12-31T23:59:59Z' }, first: 1 });
    expect(page.auditLog.edges).toHaveLength(1);
  });

  it.each(Object.entries(DECEPTIVE))('refuses a name with a %s in it', async (_kind, name) => {
    await refused(ops.registerDevice, { name }, /name/);
    await refused(ops.createPlan, { input: { organizationId: s.organizationId, name } }, /name/);
  });

  it.each(Object.entries(DECEPTIVE))('refuses a login with a %s in it before GitLab is asked', async (_kind, login) => {
    const asked = api.gitlab.requests.length;
    await refused(ops.addCredential, { input: { organizationId: s.organizationId, login, passwordId: s.passwordId } }, /login/);
    expect(api.gitlab.requests.length).toBe(asked);
  });

  it.each(["' OR 1=1 --", '23:60', 'ＡＢＣ', 'a/b'])('refuses a login no GitLab account can have (%j) before GitLab is asked', async (login) => {
    const asked = api.gitlab.requests.length;
    await refused(ops.addCredential, { input: { organizationId: s.organizationId, login, passwordId: s.passwordId } }, /^login must be a GitLab username/);
    expect(api.gitlab.requests.length).toBe(asked);
  });

  it("refuses a password whose secret no GitLab token could be as a credential's token, before GitLab is asked", async () => {
    const asked = api.gitlab.requests.length;
    for (const [label, secret] of [
      ['wide', `${secretValue('wide')}中`],
      ['spaced', `${secretValue('spaced')} x`],
    ]) {
      const { storePassword } = await api.ok(api.rootToken, ops.storePassword, { input: { name: `not a token: ${label}`, secret } });
      const response = await refused(
        ops.addCredential,
        { input: { organizationId: s.organizationId, login: 'not-a-token', passwordId: storePassword.id } },
        /the password's secret is not a GitLab token/,
      );
      expect(JSON.stringify(response)).not.toMatch(/中|index|ByteString/);
    }
    expect(api.gitlab.requests.length).toBe(asked);
  });

  it('keeps new lines and tabs in a description, which is prose', async () => {
    const { storePassword } = await api.ok(api.rootToken, ops.storePassword, {
      input: { name: 'prose', secret: secretValue('prose'), description: 'line one\n\tline two' },
    });
    expect(storePassword.description).toBe('line one\n\tline two');
  });
});
