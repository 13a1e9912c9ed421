import { listen, startTestApi, testStorage, type GraphQLResponse, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { buildScenario, ops, type Scenario } from '../support/scenario';

/** Eleven levels: one more than the server allows. */
const TOO_DEEP = `query($id: ID!) { plan(id: $id) { organization { credentials { organization { credentials {
  organization { credentials { organization { credentials { organization { id } } } } } } } } } } }`;

/** Shallow, but every list nests another: 20 plans x 20 credentials x 20 credentials is far over 10000. */
const TOO_COSTLY = '{ plans { credentials { credential { organization { credentials { id login } } } } } }';

/** Many cheap aliases add up as well. */
const TOO_MANY_ALIASES = `{ ${Array.from({ length: 150 }, (_, index) => `d${index}: devices { id name builtIn }`).join(' ')} }`;

describe('the API at its edges, on pglite', () => {
  let storage: TestStorage;
  let api: TestApi;
  let s: Scenario;
  let base: string;

  const post = async (headers: Record<string, string>, query: string): Promise<GraphQLResponse> => {
    const response = await fetch(api.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
    return (await response.json()) as GraphQLResponse;
  };
  const firstError = (response: GraphQLResponse) => response.errors?.[0] ?? { message: '', extensions: {} };
  /** The errors a socket operation ends with; graphql-ws hands a refused operation's errors over as one array. */
  const overSocket = async (query: string, variables?: Record<string, unknown>) => {
    const feed = listen(api.ws(api.rootToken), query, variables);
    await eventually(() => expect(feed.errors.length).toBeGreaterThan(0));
    feed.stop();
    return feed.errors.flat() as { message: string; extensions?: Record<string, unknown> }[];
  };
  const organizationInput = (overrides: Record<string, unknown>) => ({
    name: 'acme/edges',
    authMethod: 'TOKEN',
    login: 'edges-admin',
    passwordId: s.passwordId,
    repositoriesSync: { times: ['03:00'] },
    defaultDeviceId: s.deviceId,
    ...overrides,
  });

  beforeAll(async () => {
    storage = await testStorage('pglite');
    api = await startTestApi(storage);
    base = api.url.replace(/\/graphql$/, '');
    s = await buildScenario(api, api.rootToken, 'edges');
    // The organization's first repository sync runs in the background: done before any test looks at the read models or takes a table away.
    await api.service.app.jobs.idle();
  });
  afterAll(async () => {
    await api?.close();
    await storage?.dispose();
  });

  describe('invalid input', () => {
    it('names each invalid field with its own message, and adds nothing', async () => {
      const before = (await api.ok(api.rootToken, ops.organizations)).organizations.length;
      const response = await api.request(api.rootToken, ops.addOrganization, {
        input: organizationInput({ name: '', repositoriesSync: { times: ['25:00'] } }),
      });
      const error = firstError(response);
      expect(error.extensions?.code).toBe('BAD_USER_INPUT');
      expect(Object.keys(error.extensions?.fields ?? {}).sort()).toEqual(['name', 'repositoriesSync.times']);
      expect(error.extensions?.fields.name).toEqual(['name must not be empty']);
      expect(error.extensions?.fields['repositoriesSync.times'].join(' ')).toMatch(/HH:MM/);
      expect(error.message).toMatch(/name/);
      expect((await api.ok(api.rootToken, ops.organizations)).organizations).toHaveLength(before);
    });

    it('refuses a sync interval under 15 minutes', async () => {
      const response = await api.request(api.rootToken, ops.addOrganization, { input: organizationInput({ repositoriesSync: { intervalMinutes: 3 } }) });
      expect(firstError(response).extensions).toEqual({
        code: 'BAD_USER_INPUT',
        fields: { 'repositoriesSync.intervalMinutes': ['intervalMinutes must be at least 15'] },
      });
    });

    it('refuses SSO while Backplane is no OAuth application on GitLab, naming what to set or to use TOKEN', async () => {
      const response = await api.request(api.rootToken, ops.addOrganization, {
        input: organizationInput({ authMethod: 'SSO', login: null, passwordId: null }),
      });
      expect(firstError(response).extensions?.code).toBe('BAD_USER_INPUT');
      expect(firstError(response).message).toMatch(/SSO.*BACKPLANE_GITLAB_OAUTH_CLIENT_ID.*BACKPLANE_GITLAB_OAUTH_CLIENT_SECRET.*TOKEN/);
    });
  });

  describe('query limits', () => {
    it('refuses a query deeper than 10 levels over HTTP', async () => {
      const response = await api.request(api.rootToken, TOO_DEEP, { id: s.planId });
      expect(response.data ?? null).toBeNull();
      expect(firstError(response).extensions?.code).toBe('QUERY_TOO_COMPLEX');
      expect(firstError(response).message).toMatch(/11 levels deep; the limit is 10/);
    });

    it('refuses a query over complexity 10000 over HTTP, and one of more than 100 aliases', async () => {
      const costly = firstError(await api.request(api.rootToken, TOO_COSTLY));
      expect(costly.extensions?.code).toBe('QUERY_TOO_COMPLEX');
      expect(costly.message).toMatch(/complexity is \d+; the limit is 10000/);
      const aliased = firstError(await api.request(api.rootToken, TOO_MANY_ALIASES));
      expect(aliased.extensions?.code).toBe('QUERY_TOO_COMPLEX');
      expect(aliased.message).toMatch(/more than 100 aliases/);
    });

    it('answers a query within the limits', async () => {
      const { plan } = await api.ok(api.rootToken, ops.plan, { id: s.planId });
      expect(plan.id).toBe(s.planId);
    });

    it('refuses the same over the WebSocket, for queries and subscriptions', async () => {
      const deepSubscription = `subscription { planCredentialToggled { plan { organization { credentials { organization { credentials {
        organization { credentials { organization { credentials { id } } } } } } } } } } }`;
      const costly = 'credentials { credential { organization { credentials { organization { credentials { id } } } } } }';
      const costlySubscription = `subscription { planCredentialToggled { a: plan { ${costly} } b: plan { ${costly} } } }`;
      for (const [query, variables] of [[TOO_DEEP, { id: s.planId }], [TOO_COSTLY], [deepSubscription], [costlySubscription]] as const) {
        const errors = await overSocket(query, variables);
        expect(errors.map((error) => error.extensions?.code)).toEqual(['QUERY_TOO_COMPLEX']);
      }
    });

    it('answers a malformed or invalid operation on the WebSocket with its code and message, as HTTP does', async () => {
      const parseErrors = await overSocket('subscription { auditEvents { ');
      expect(parseErrors.map((error) => error.extensions?.code)).toEqual(['GRAPHQL_PARSE_FAILED']);
      expect(parseErrors[0].message).toMatch(/Syntax Error/);
      const invalid = await overSocket('subscription { noSuchField }');
      expect(invalid.map((error) => error.extensions?.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      expect(invalid[0].message).toMatch(/noSuchField/);
      const overHttp = await api.request(api.rootToken, '{ noSuchField }');
      expect(overHttp.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    });
  });

  describe('authentication', () => {
    it('answers UNAUTHENTICATED without an Authorization header', async () => {
      const response = await post({}, ops.me);
      expect(firstError(response).extensions?.code).toBe('UNAUTHENTICATED');
      expect(response.data?.me ?? null).toBeNull();
    });

    it('answers UNAUTHENTICATED to a malformed or unknown Authorization header', async () => {
      for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', `Bearer ${api.rootToken} extra`, api.rootToken, 'Bearer bpk_unknown']) {
        const response = await post({ authorization }, ops.me);
        expect({ authorization, code: firstError(response).extensions?.code }).toEqual({ authorization, code: 'UNAUTHENTICATED' });
      }
    });
  });

  describe('over plain HTTP', () => {
    it('answers /healthz', async () => {
      const response = await fetch(`${base}/healthz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok' });
    });

    it('answers /readyz once the read models have caught up', async () => {
      await eventually(async () => {
        const response = await fetch(`${base}/readyz`);
        expect(response.status).toBe(200);
        expect(await response.json()).toMatchObject({ status: 'ready', behind: [] });
      });
    });

    it('serves GraphiQL to a browser, with nothing loaded from another host', async () => {
      const response = await fetch(api.url, { headers: { accept: 'text/html' } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await response.text();
      expect(html).toMatch(/graphiql/i);
      const urls = html.match(/\b(?:https?|wss?):\/\/[^\s"'<>)]+/gi) ?? [];
      expect(urls.filter((url) => new URL(url).host !== new URL(api.url).host)).toEqual([]);
    });
  });

  describe('read-your-writes', () => {
    it('shows a mutation in its answer and in the next query', async () => {
      const { registerDevice } = await api.ok(api.rootToken, ops.registerDevice, { name: 'edge-nas' });
      expect(registerDevice).toMatchObject({ name: 'edge-nas', builtIn: false });
      expect((await api.ok(api.rootToken, ops.devices)).devices).toContainEqual(registerDevice);

      const { updateOrganizationSettings } = await api.ok(api.rootToken, ops.updateOrganizationSettings, {
        id: s.organizationId,
        input: { protectGroups: true, repositoriesSync: { intervalMinutes: 60 } },
      });
      expect(updateOrganizationSettings).toMatchObject({ protectGroups: true, repositoriesSync: { times: null, intervalMinutes: 60 } });
      const { organization } = await api.ok(api.rootToken, ops.organization, { id: s.organizationId });
      expect(organization).toMatchObject({ version: updateOrganizationSettings.version, protectGroups: true, repositoriesSync: { intervalMinutes: 60 } });

      const { togglePlanCredential } = await api.ok(api.rootToken, ops.togglePlanCredential, {
        planId: s.planId,
        credentialId: s.credentialIds[1],
        enabled: true,
      });
      const { plan } = await api.ok(api.rootToken, ops.plan, { id: s.planId });
      expect(plan.version).toBe(togglePlanCredential.version);
      expect(plan.credentials.find((c: any) => c.credential.id === s.credentialIds[1])).toMatchObject({ enabled: true, effective: true });
    });
  });

  // Last: it takes a read-model table away from under the running service.
  describe('an unexpected failure', () => {
    it('answers INTERNAL_SERVER_ERROR with a generic message, no stack trace and nothing of the SQL error', async () => {
      const db = api.service.backplane.db;
      await db.exec('ALTER TABLE devices RENAME TO devices_elsewhere');
      let response: GraphQLResponse;
      try {
        response = await api.request(api.rootToken, ops.devices);
      } finally {
        await db.exec('ALTER TABLE devices_elsewhere RENAME TO devices');
      }
      expect(response.errors).toHaveLength(1);
      const error = firstError(response);
      expect(error.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
      expect(error.message).toBe('internal error: the request failed on the server');
      expect(JSON.stringify(response)).not.toMatch(/relation|does not exist|SELECT|stack|\.[jt]s:\d/i);
      expect((await api.ok(api.rootToken, ops.devices)).devices.length).toBeGreaterThan(0);
    });
  });
});
