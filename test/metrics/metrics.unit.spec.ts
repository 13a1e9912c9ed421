import { parse, buildSchema, GraphQLError, type OperationDefinitionNode } from 'graphql';
import { BackplaneError } from '../../src/errors';
import { tenant, type TenantEvent } from '../../src/domain/tenant';
import { endpointClass, GITLAB_ENDPOINTS } from '../../src/metrics/gitlab-endpoint';
import { MAX_LOGINS, Metrics, streamCategory } from '../../src/metrics/metrics';
import { operationLabel, outcomeOf } from '../../src/metrics/operation-label';
import { deciderSpec } from '../support/decider-spec';
import { parseExposition, total } from './scrape';

const schema = buildSchema('type Query { me: String plans: [String] } type Mutation { togglePlanCredential: String }');
const operation = (document: string) => parse(document).definitions[0] as OperationDefinitionNode;

describe('operation labels', () => {
  it.each([
    ['query Whatever { me }', 'me'],
    ['{ __typename me }', 'me'],
    ['mutation X { togglePlanCredential }', 'togglePlanCredential'],
    ['{ me plans }', 'multiple'],
    ['{ __schema { queryType { name } } }', 'introspection'],
    ['{ unknownField }', 'other'],
    ['mutation { me }', 'other'],
    ['{ ...F } fragment F on Query { me }', 'other'],
  ])('%s is %s', (document, label) => {
    expect(operationLabel(schema, operation(document))).toBe(label);
  });

  it('takes the code of the first error, and nothing that is not a code', () => {
    expect([
      outcomeOf(undefined),
      outcomeOf([]),
      outcomeOf([{ extensions: { code: 'FORBIDDEN' } }, { extensions: { code: 'NOT_FOUND' } }]),
      outcomeOf([{ extensions: { code: 'free text from somewhere' } }]),
      outcomeOf([{ message: 'no code' }]),
    ]).toEqual(['ok', 'ok', 'FORBIDDEN', 'INTERNAL_SERVER_ERROR', 'INTERNAL_SERVER_ERROR']);
  });

  it('takes the code the client is answered with from an error not yet formatted, as graphql-js wraps a thrown one', () => {
    const thrown = (error: Error) => new GraphQLError(error.message, { originalError: error });
    expect([
      outcomeOf([thrown(new BackplaneError('NOT_FOUND', 'no plan'))]),
      outcomeOf([thrown(new BackplaneError('INVALID_INPUT', 'bad'))]),
      outcomeOf([thrown(new BackplaneError('GITLAB_TIMEOUT', 'slow'))]),
      outcomeOf([thrown(new Error('a bug'))]),
    ]).toEqual(['NOT_FOUND', 'BAD_USER_INPUT', 'INTERNAL_SERVER_ERROR', 'INTERNAL_SERVER_ERROR']);
  });
});

describe('GitLab endpoint classes', () => {
  it.each([
    ['/api/v4/user', 'user'],
    ['/api/v4/personal_access_tokens/self', 'tokens'],
    ['/api/v4/groups/12/projects', 'group_projects'],
    ['/api/v4/groups/acme%2Fplatform', 'groups'],
    ['/api/v4/groups/12/descendant_groups', 'groups'],
    ['/api/v4/projects/7', 'projects'],
    ['/api/v4/projects', 'projects'],
    ['/api/v4/projects/7/repository/tree', 'repository_tree'],
    ['/api/v4/projects/7/repository/branches', 'repository'],
    ['/api/v4/projects/7/issues/3/notes', 'notes'],
    ['/api/v4/projects/7/merge_requests/3/notes', 'notes'],
    ['/api/v4/projects/7/issues', 'issues'],
    ['/api/v4/projects/7/merge_requests', 'merge_requests'],
    ['/api/v4/projects/7/labels', 'labels'],
    ['/api/v4/projects/7/milestones/2', 'milestones'],
    ['/api/v4/projects/7/releases', 'releases'],
    ['/api/v4/projects/7/hooks', 'other'],
    ['/gitlab/api/v4/user', 'user'],
    ['/oauth/token', 'other'],
  ])('%s is %s', (path, name) => {
    expect(endpointClass(path)).toBe(name);
    expect(GITLAB_ENDPOINTS).toContain(name);
  });
});

describe('the metrics of one process', () => {
  it('counts the time a login was told to rest once, however many 429s overlap', async () => {
    let now = 1_000_000;
    const metrics = new Metrics({ now: () => now });
    const bot = metrics.gitlab('bot');
    bot.throttled(2000);
    now += 500;
    bot.throttled(2000); // rests until 2.5 s from the start: 0.5 s more
    bot.throttled(1000); // inside the rest already
    now += 5000;
    bot.throttled(1000);
    metrics.gitlab(null).throttled(300);
    const samples = parseExposition(await metrics.text());
    expect(total(samples, 'backplane_gitlab_throttled_seconds_total', { login: 'bot' })).toBeCloseTo(3.5);
    expect(total(samples, 'backplane_gitlab_throttled_seconds_total', { login: 'unknown' })).toBeCloseTo(0.3);
  });

  it('labels at most MAX_LOGINS logins, removing the series of the one least recently used', async () => {
    const metrics = new Metrics();
    const request = (login: string) => metrics.gitlab(login).answered({ method: 'GET', path: '/api/v4/user', status: 200 });
    request('kept');
    metrics.gitlab('dropped').throttled(1000);
    request('dropped');
    for (let i = 0; i < MAX_LOGINS - 2; i++) request(`login-${i}`);
    // Full: used again, "kept" is the most recent; the next new login takes the place of "dropped".
    request('kept');
    request('newest');
    const samples = parseExposition(await metrics.text());
    const logins = new Set(samples.filter((sample) => sample.name.startsWith('backplane_gitlab_')).map((sample) => sample.labels.login));
    expect(logins.size).toBe(MAX_LOGINS);
    expect([logins.has('kept'), logins.has('newest'), logins.has('dropped'), logins.has('other')]).toEqual([true, true, false, false]);
    expect(total(samples, 'backplane_gitlab_requests_total', { login: 'kept' })).toBe(2);
    // Back later, it counts from nothing.
    request('dropped');
    expect(total(parseExposition(await metrics.text()), 'backplane_gitlab_requests_total', { login: 'dropped' })).toBe(1);
  });

  it('keeps its counts to itself: two in one process count apart', async () => {
    const [one, two] = [new Metrics(), new Metrics()];
    one.append('plan-1', 2, 'ok', 0.001);
    const counted = async (metrics: Metrics) => total(parseExposition(await metrics.text()), 'backplane_events_appended_total');
    expect([await counted(one), await counted(two)]).toEqual([2, 0]);
  });

  it("collects the process's metrics once, whatever the number of services, and serves them with each one's", async () => {
    const [one, two] = [new Metrics(), new Metrics()];
    // Each collection would start a GC observer and an event-loop monitor of its own, never stopped.
    expect([one, two].map((metrics) => metrics.registry.getSingleMetric('process_resident_memory_bytes'))).toEqual([undefined, undefined]);
    for (const metrics of [one, two]) {
      const text = await metrics.text();
      expect(total(parseExposition(text), 'process_resident_memory_bytes')).toBeGreaterThan(0);
      expect(text).toContain('# TYPE backplane_events_appended_total counter');
    }
  });

  it('labels a stream by its aggregate, never by its id', () => {
    expect(['plan-5f0c', 'repositories-1', 'tenant-default', '$weird', '-x'].map(streamCategory)).toEqual(['plan', 'repositories', 'tenant', 'other', 'other']);
  });
});

describe('the METRICS role', () => {
  const spec = deciderSpec(tenant);
  const created = (root: boolean): TenantEvent[] => [
    { type: 'TenantCreated', data: { tenantId: 't1', name: 'acme', root } },
    { type: 'ApiTokenCreated', data: { tenantId: 't1', tokenId: 'k1', name: 'bootstrap', role: 'ADMIN' } },
  ];
  const createMetricsToken = { type: 'CreateApiToken' as const, data: { tokenId: 'k2', name: 'prometheus', role: 'METRICS' as const } };

  it("is given by the root (the operator's) tenant", () => {
    spec
      .given(created(true))
      .when(createMetricsToken)
      .then([{ type: 'ApiTokenCreated', data: { tenantId: 't1', tokenId: 'k2', name: 'prometheus', role: 'METRICS' } }]);
  });

  it('is refused to any other tenant: the metrics hold every tenant', () => {
    spec
      .given(created(false))
      .when(createMetricsToken)
      .thenRefuses('FORBIDDEN', /root tenant/);
  });
});
