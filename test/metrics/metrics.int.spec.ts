import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  type GraphQLField,
  type GraphQLInputType,
} from 'graphql';
import { commandContext, systemPrincipal } from '../../src/app/principal';
import { device, deviceStream } from '../../src/domain/device';
import { endpointClass } from '../../src/metrics/gitlab-endpoint';
import { LAG_COUNT_LIMIT, LAG_READ_EVERY_MS } from '../../src/metrics/metrics';
import { apiStores, listen, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { GitLabDouble } from '../support/gitlab-double';
import { buildScenario, ops, protectListedRepositories, secretValue, type Scenario } from '../support/scenario';
import { byLabels, parseExposition, total, type Sample } from './scrape';

const OPERATIONS = 'backplane_graphql_operation_duration_seconds_count';
const GITLAB = 'backplane_gitlab_requests_total';

const schema = buildSchema(readFileSync(join(__dirname, '../../schema/schema.graphql'), 'utf8'));

/** A literal of the type, good enough to pass validation: the refusal must come before anything reads it. */
function literal(type: GraphQLInputType): string {
  if (isNonNullType(type)) return literal(type.ofType);
  if (isListType(type)) return `[${literal(type.ofType)}]`;
  if (isEnumType(type)) return type.getValues()[0].name;
  if (isInputObjectType(type)) {
    const required = Object.values(type.getFields()).filter((field) => isNonNullType(field.type) && field.defaultValue === undefined);
    return `{ ${required.map((field) => `${field.name}: ${literal(field.type)}`).join(', ')} }`;
  }
  switch (type.name) {
    case 'Int':
      return '1';
    case 'Float':
      return '1.5';
    case 'Boolean':
      return 'true';
    case 'DateTime':
      return '"2026-01-01T00:00:00Z"';
    case 'JSON':
      return '{}';
    default:
      return '"00000000-0000-4000-8000-000000000000"';
  }
}

/** A valid document calling the one root field, its required arguments given. */
function documentFor(kind: 'query' | 'mutation', field: GraphQLField<unknown, unknown>): string {
  const args = field.args.filter((arg) => isNonNullType(arg.type)).map((arg) => `${arg.name}: ${literal(arg.type)}`);
  const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
  return `${kind} { ${field.name}${args.length > 0 ? `(${args.join(', ')})` : ''}${selection} }`;
}

const everyDocument: [string, string][] = [
  ...Object.values(schema.getQueryType()!.getFields()).map((field) => [field.name, documentFor('query', field)] as [string, string]),
  ...Object.values(schema.getMutationType()!.getFields()).map((field) => [field.name, documentFor('mutation', field)] as [string, string]),
  ['introspection', 'query { __schema { queryType { name } } }'],
];

async function post(api: TestApi, token: string | null, query: string): Promise<{ status: number; body: any }> {
  const response = await fetch(api.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, body: await response.json() };
}

for (const store of apiStores) {
  describe(`/metrics on ${store}`, () => {
    let storage: TestStorage;
    let gitlab: GitLabDouble;
    let api: TestApi;
    let metricsToken: string;
    let s: Scenario | undefined;
    /** The scenario of the first test, or one built now when that test did not run. */
    const scenario = async (): Promise<Scenario> => {
      s ??= await buildScenario(api, api.rootToken);
      return s;
    };

    const metricsUrl = () => new URL('/metrics', api.url).toString();
    const scrape = async (token: string | null = metricsToken): Promise<Sample[]> => {
      const response = await fetch(metricsUrl(), { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return parseExposition(await response.text());
    };
    const events = () => api.service.backplane.store.countEvents();
    // Every read model, the audit history too (a change's answer does not wait for it; it gathers a moment's changes before it reads).
    const settled = async () => {
      await api.service.app.jobs.idle();
      const head = await api.service.backplane.store.headPosition();
      if (head !== null) await api.service.app.settleAll(head);
    };

    beforeAll(async () => {
      storage = await testStorage(store);
      gitlab = await GitLabDouble.start();
      api = await startTestApi(storage, { gitlab, env: { BACKPLANE_METRICS_PORT: '0' } });
      metricsToken = (await api.ok(api.rootToken, ops.createApiToken, { name: 'prometheus', role: 'METRICS' })).createApiToken.token;
    });
    afterAll(async () => {
      await api?.close();
      await gitlab?.close();
      await storage?.dispose();
    });

    it('counts what a scenario did: operations by field and outcome, appends, tasks, GitLab requests by login, class and status', async () => {
      await settled();
      const before = await scrape();
      const eventsBefore = await events();

      const built = await buildScenario(api, api.rootToken);
      s = built;
      for (const enabled of [true, false, true]) {
        await api.ok(api.rootToken, ops.togglePlanCredential, { planId: built.planId, credentialId: built.credentialIds[1], enabled });
      }
      const refused = await api.request(api.rootToken, ops.togglePlanCredential, {
        planId: built.planId,
        credentialId: built.credentialIds[1],
        enabled: 'yes',
      });
      expect(refused.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
      gitlab.addProject('acme/platform', 'api');
      gitlab.addProject('acme/platform', 'web');
      await api.ok(api.rootToken, ops.syncRepositories, { id: built.organizationId });
      await protectListedRepositories(api, built.organizationId, 2);
      // The main login's token is throttled: its check, several requests at once, waits out GitLab's 429s.
      gitlab.setRateLimit({ limit: 1, windowMs: 1000 }, built.secrets[0]);
      await api.ok(api.rootToken, ops.verifyOrganization, { id: built.organizationId });
      gitlab.setRateLimit(null, built.secrets[0]);
      const { runPlan } = await api.ok(api.rootToken, 'mutation($id: ID!) { runPlan(planId: $id) { id } }', { id: built.planId });
      await settled();
      const { task } = await api.ok(api.rootToken, 'query($id: ID!) { task(id: $id) { status } }', { id: runPlan.id });
      expect(task.status).toBe('COMPLETED');

      const after = await scrape();
      const delta = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);
      expect(delta(OPERATIONS, { operation: 'togglePlanCredential', type: 'mutation', outcome: 'ok', transport: 'http' })).toBe(3);
      expect(delta(OPERATIONS, { operation: 'togglePlanCredential', outcome: 'BAD_USER_INPUT' })).toBe(1);
      expect(delta(OPERATIONS, { operation: 'addCredential', outcome: 'ok' })).toBe(2);
      expect(delta(OPERATIONS, { operation: 'runPlan', outcome: 'ok' })).toBe(1);
      // Every event of the log was appended here, each counted once, under its aggregate.
      expect(delta('backplane_events_appended_total')).toBe((await events()) - eventsBefore);
      expect(delta('backplane_events_appended_total', { category: 'plan' })).toBeGreaterThanOrEqual(4);
      expect(delta('backplane_event_append_duration_seconds_count', { outcome: 'ok' })).toBeGreaterThan(0);
      expect(delta('backplane_task_duration_seconds_count', { kind: 'plan_run', outcome: 'completed' })).toBe(1);
      // The organization's first sync, the one that listed the projects, and the throttled one.
      expect(delta('backplane_task_duration_seconds_count', { kind: 'repository_sync', outcome: 'completed' })).toBeGreaterThanOrEqual(2);
      expect(total(after, 'backplane_tasks_running')).toBe(0);

      // What GitLab (the double) answered, class by class, is what was counted: each attempt once.
      const seen = gitlab.requests.filter((r) => r.path.startsWith('/api/v4/') && r.status > 0);
      const answered: Record<string, number> = {};
      const byLogin: Record<string, number> = {};
      for (const request of seen) {
        const key = `${endpointClass(request.path)} ${request.status}`;
        answered[key] = (answered[key] ?? 0) + 1;
        const login = request.username ?? 'unknown';
        byLogin[login] = (byLogin[login] ?? 0) + 1;
      }
      expect(byLabels(after, GITLAB, ['endpoint', 'status'])).toEqual(answered);
      expect(Object.keys(answered).filter((key) => key.endsWith(' 429')).length).toBeGreaterThan(0);
      // A token check's requests are "check": the login it names is not verified yet. The others carry the login, each attempt once.
      const counted = byLabels(after, GITLAB, ['login']);
      expect(counted.check).toBeGreaterThan(0);
      expect(counted['acme-admin']).toBeGreaterThan(0);
      for (const [login, count] of Object.entries(counted)) if (login !== 'check') expect([login, count <= byLogin[login]]).toEqual([login, true]);
      // The main login's check waited out GitLab's 429s.
      expect(total(after, 'backplane_gitlab_throttled_seconds_total', { login: 'check' })).toBeGreaterThan(0);
      expect(total(after, 'backplane_gitlab_throttled_seconds_total', { login: 'acme-bot2' })).toBe(0);

      // Caught up: every read model's lag is there, and nothing.
      const lag = after.filter((sample) => sample.name === 'backplane_projection_lag_events');
      expect(lag.map((sample) => sample.labels.projection).sort()).toEqual(api.service.backplane.runners.map((runner) => runner.name).sort());
      expect(lag.every((sample) => sample.value === 0)).toBe(true);
      expect(total(after, 'backplane_projection_lag_seconds')).toBe(0);
      // No index left to build (test/core/later-indexes.int.spec.ts builds them under a scrape).
      const pending = after.filter((sample) => sample.name === 'backplane_projection_indexes_pending');
      expect(pending.map((sample) => [sample.labels.projection, sample.value]).sort()).toEqual(
        api.service.backplane.runners.map((runner) => [runner.name, 0]).sort(),
      );
      // Process metrics, prom-client's defaults.
      expect(total(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    });

    it('reports a projection that has not applied the log as lagging, in events and seconds', async () => {
      // The audit history: the product's read models are kept inline by the appends, and never lag.
      const runner = api.service.backplane.runners.find((candidate) => candidate.history)!;
      const product = api.service.backplane.runners.find((candidate) => !candidate.history)!;
      const tenantId = (await api.ok(api.rootToken, ops.me)).me.tenant.id as string;
      await runner.stop();
      try {
        // Through the command handler, which does not wait for the read models as a mutation's answer does.
        const register = (name: string) => {
          const deviceId = randomUUID();
          return api.service.backplane.commands.handle(
            device,
            deviceStream(deviceId),
            { type: 'RegisterDevice', data: { deviceId, name, builtIn: false, nameTaken: false } },
            commandContext(systemPrincipal(tenantId), randomUUID()),
          );
        };
        await register('lag probe');
        await new Promise((resolve) => setTimeout(resolve, 1100));
        const lagOf = (samples: Sample[]) => total(samples, 'backplane_projection_lag_events', { projection: runner.name });
        // A scrape shortly before may have been answered from a reading made before the event: readings are LAG_READ_EVERY_MS apart.
        const lagging = await eventually(async () => {
          const samples = await scrape();
          expect(lagOf(samples)).toBeGreaterThan(0);
          return samples;
        }, 3 * LAG_READ_EVERY_MS);
        const events = lagOf(lagging);
        expect(events).toBeLessThanOrEqual(LAG_COUNT_LIMIT);
        expect(total(lagging, 'backplane_projection_lag_seconds', { projection: runner.name })).toBeGreaterThanOrEqual(1);
        expect(total(lagging, 'backplane_projection_lag_events', { projection: product.name })).toBe(0);

        // Scrapes in between readings read nothing of the log: they are answered with the last reading.
        await register('lag probe 2');
        expect(lagOf(await scrape())).toBe(events);
        await eventually(async () => expect(lagOf(await scrape())).toBe(events + 1), 3 * LAG_READ_EVERY_MS);
      } finally {
        runner.start();
      }
      await settled();
      await eventually(
        async () => expect(total(await scrape(), 'backplane_projection_lag_events', { projection: runner.name })).toBe(0),
        3 * LAG_READ_EVERY_MS,
      );
    });

    it('names an operation by the root field the schema knows, never by what the client calls it', async () => {
      const before = await scrape();
      const name = `Op${Math.random().toString(36).slice(2)}`;
      const field = `field${Math.random().toString(36).slice(2)}`;
      await api.ok(api.rootToken, `query ${name} { me { id } }`);
      const unknown = await api.request(api.rootToken, `query ${name}Other { ${field} }`);
      expect(unknown.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      await api.ok(api.rootToken, '{ me { id } devices { id } }');
      const response = await fetch(metricsUrl(), { headers: { authorization: `Bearer ${metricsToken}` } });
      const text = await response.text();
      expect([text.includes(name), text.includes(field)]).toEqual([false, false]);
      const after = parseExposition(text);
      const delta = (labels: Record<string, string>) => total(after, OPERATIONS, labels) - total(before, OPERATIONS, labels);
      expect(delta({ operation: 'me', type: 'query', outcome: 'ok' })).toBe(1);
      expect(delta({ operation: 'other', outcome: 'GRAPHQL_VALIDATION_FAILED' })).toBe(1);
      expect(delta({ operation: 'multiple', outcome: 'ok' })).toBe(1);
      const known = new Set([
        ...Object.keys(schema.getQueryType()!.getFields()),
        ...Object.keys(schema.getMutationType()!.getFields()),
        ...Object.keys(schema.getSubscriptionType()!.getFields()),
        'other',
        'multiple',
        'introspection',
      ]);
      const labels = after.filter((sample) => sample.name === OPERATIONS).map((sample) => sample.labels.operation);
      expect(labels.filter((label) => !known.has(label))).toEqual([]);
    });

    it('counts open WebSocket connections and subscriptions, and lets them go when they end', async () => {
      const { planId } = await scenario();
      const before = await scrape();
      const subscription = listen(api.ws(api.rootToken), ops.planCredentialToggled, { planId });
      try {
        await eventually(async () => {
          const now = await scrape();
          expect(total(now, 'backplane_graphql_subscriptions_open') - total(before, 'backplane_graphql_subscriptions_open')).toBe(1);
          expect(total(now, 'backplane_websocket_connections_open') - total(before, 'backplane_websocket_connections_open')).toBe(1);
        });
        const opened = await scrape();
        const subscribed = { operation: 'planCredentialToggled', type: 'subscription', outcome: 'ok', transport: 'ws' };
        expect(total(opened, OPERATIONS, subscribed) - total(before, OPERATIONS, subscribed)).toBe(1);
      } finally {
        subscription.stop();
      }
      await eventually(async () =>
        expect(total(await scrape(), 'backplane_graphql_subscriptions_open')).toBe(total(before, 'backplane_graphql_subscriptions_open')),
      );
    });

    it('never labels GitLab requests with a login an administrator typed and GitLab did not confirm', async () => {
      const { organizationId } = await scenario();
      const typed = `typed-${randomUUID().slice(0, 8)}`;
      const { storePassword } = await api.ok(api.rootToken, ops.storePassword, { input: { name: typed, secret: secretValue(typed) } });
      const refused = await api.request(api.rootToken, ops.addCredential, { input: { organizationId, login: typed, passwordId: storePassword.id } });
      expect(refused.errors?.length).toBeGreaterThan(0);
      const text = await (await fetch(metricsUrl(), { headers: { authorization: `Bearer ${metricsToken}` } })).text();
      expect(text.includes(typed)).toBe(false);
    });

    it('counts an operation refused over the WebSocket with the code its client was answered', async () => {
      const before = await scrape();
      const variables = { planId: randomUUID(), credentialId: randomUUID(), enabled: true };
      const client = api.ws(api.rootToken);
      const answer = await new Promise<{ errors?: readonly { extensions?: Record<string, unknown> }[] }>((resolve, reject) => {
        let last = {};
        client.subscribe({ query: ops.togglePlanCredential, variables }, { next: (value) => (last = value), error: reject, complete: () => resolve(last) });
      });
      expect(answer.errors?.map((error) => error.extensions?.code)).toEqual(['NOT_FOUND']);
      const after = await scrape();
      const delta = (outcome: string) =>
        total(after, OPERATIONS, { operation: 'togglePlanCredential', outcome, transport: 'ws' }) -
        total(before, OPERATIONS, { operation: 'togglePlanCredential', outcome, transport: 'ws' });
      expect([delta('NOT_FOUND'), delta('INTERNAL_SERVER_ERROR')]).toEqual([1, 0]);
    });

    it('serves /metrics to a METRICS token only', async () => {
      const { createApiToken: viewer } = await api.ok(api.rootToken, ops.createApiToken, { name: 'viewer of metrics', role: 'VIEWER' });
      const answers: Record<string, number> = {};
      for (const [label, authorization] of [
        ['none', null],
        ['unknown', 'Bearer bpk_garbage_0123456789abcdefghijklmnop'],
        ['ADMIN', `Bearer ${api.rootToken}`],
        ['VIEWER', `Bearer ${viewer.token}`],
        ['METRICS', `Bearer ${metricsToken}`],
      ] as const) {
        answers[label] = (await fetch(metricsUrl(), { headers: authorization === null ? {} : { authorization } })).status;
      }
      expect(answers).toEqual({ none: 401, unknown: 401, ADMIN: 403, VIEWER: 403, METRICS: 200 });
    });

    it('refuses a METRICS token every operation of the GraphQL API, and writes nothing', async () => {
      const head = await events();
      const answers: Record<string, unknown> = {};
      const control: Record<string, unknown> = {};
      for (const [name, document] of everyDocument) {
        const { status, body } = await post(api, metricsToken, document);
        answers[name] = [status, body.data ?? null, body.errors?.map((error: any) => error.extensions?.code)];
        // Without a token the same document is read and answered UNAUTHENTICATED: it is a valid one.
        control[name] = (await post(api, null, document)).body.errors?.map((error: any) => error.extensions?.code);
      }
      expect(answers).toEqual(Object.fromEntries(everyDocument.map(([name]) => [name, [403, null, ['FORBIDDEN']]])));
      expect(control).toEqual(Object.fromEntries(everyDocument.map(([name]) => [name, name === 'introspection' ? undefined : ['UNAUTHENTICATED']])));
      expect(await events()).toBe(head);
    });

    it('refuses a METRICS token on the WebSocket at connection_init (4403)', async () => {
      // Refused at connection_init: the plan is never looked up.
      const subscription = listen(api.ws(metricsToken), ops.planCredentialToggled, { planId: randomUUID() });
      try {
        await eventually(() => expect(subscription.errors.length).toBeGreaterThan(0));
        expect(subscription.errors.map((error) => (error as { code?: number }).code)).toEqual([4403]);
        expect(subscription.received).toEqual([]);
      } finally {
        subscription.stop();
      }
    });

    it("lets only the root (the operator's) tenant create METRICS tokens", async () => {
      const { createTenant } = await api.ok(api.rootToken, ops.createTenant, { name: 'another tenant' });
      const refused = await api.request(createTenant.token, ops.createApiToken, { name: 'their prometheus', role: 'METRICS' });
      expect(refused.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
      const { apiTokens } = await api.ok(createTenant.token, ops.apiTokens);
      expect(apiTokens.map((token: { role: string }) => token.role)).toEqual(['ADMIN']);
    });

    it('serves the same metrics on BACKPLANE_METRICS_PORT without a token, and nothing else there', async () => {
      const listener = api.service.metricsListener!;
      expect(listener.port).not.toBe(new URL(api.url).port);
      // Anyone who reaches it reads it: this machine only, unless BACKPLANE_METRICS_HOST says otherwise.
      expect(listener.address).toBe('127.0.0.1');
      const base = `http://127.0.0.1:${listener.port}`;
      await api.ok(api.rootToken, ops.me);
      const response = await fetch(`${base}/metrics`);
      expect(response.status).toBe(200);
      const samples = parseExposition(await response.text());
      // The same counts as the route with a token gives: no operation ran in between.
      const me = { operation: 'me', outcome: 'ok' };
      expect(total(samples, OPERATIONS, me)).toBeGreaterThan(0);
      expect(total(samples, OPERATIONS, me)).toBe(total(await scrape(), OPERATIONS, me));
      const elsewhere = await Promise.all(
        ['/graphql', '/healthz', '/readyz', '/metrics/'].map(async (path) => (await fetch(`${base}${path}`, { method: 'GET' })).status),
      );
      expect(elsewhere).toEqual([404, 404, 404, 404]);
      expect((await fetch(`${base}/graphql`, { method: 'POST', body: '{"query":"{ me { id } }"}' })).status).toBe(404);
    });
  });
}
