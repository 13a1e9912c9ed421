import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { write } from '../../src/app/deps';
import { systemPrincipal } from '../../src/app/principal';
import { openBackplane } from '../../src/backplane';
import type { ProjectionStatus } from '../../src/core/read-model-progress';
import { fingerprintOf, password, passwordStream } from '../../src/domain/password';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { recordingLogger } from '../support/recording-logger';
import { testDatabaseUrl } from '../support/postgres-url';
import { openRawSocket } from '../support/raw-socket';
import { ops } from '../support/scenario';

/**
 * Events the held read model has to catch up with when the service starts again: in streams only
 * the audit log reads, or in password streams, which the product's read models read too (events
 * of a type they do not know, which they pass over).
 */
const SEEDED = 20_000;
const BATCH = 500;

const CREATE_TOKEN = 'mutation { createApiToken(input: { name: "ci", role: VIEWER }) { token } }';

interface Readiness {
  status: string;
  behind: string[];
  projections: ProjectionStatus[];
}

async function readiness(api: TestApi): Promise<{ status: number; body: Readiness }> {
  const response = await fetch(new URL('/readyz', api.url));
  return { status: response.status, body: (await response.json()) as Readiness };
}

type Held = 'audit-log' | 'product';

/**
 * The audit log on PostgreSQL: a session of the test's own holds the lock a runner must hold to
 * apply it (an advisory lock, which needs no transaction: an open transaction with an id would
 * hold back the log's readable end for every reader), so that no runner applies a batch until the
 * test lets go, and the catch-up lasts exactly as long as the test needs it to. Otherwise (PGlite
 * has one connection, the service's, and the catch-up may be over by the time the service is up;
 * the product's read models are kept by the appends until a rebuild takes them back) the read
 * model is set back to the start once the service is up (a rebuild, as an upgrade with a new
 * version of it does), its runner stopped after the first batch it applies again (which holds the
 * tenants and their tokens, the first events of the log), and started again on release.
 */
async function holdReadModel(held: Held, storage: TestStorage, api: () => TestApi): Promise<() => Promise<void>> {
  if (storage.store !== 'postgres' || held !== 'audit-log') {
    const runner = api().service.backplane.runner(held);
    await runner.stop();
    await runner.reset();
    const stopped = new Promise<void>((resolve) => {
      const stopHearing = runner.onProgress(() => {
        stopHearing();
        resolve(runner.stop());
      });
    });
    runner.start();
    await stopped;
    // The service hears of the rebuild from that batch, and reads the head it catches up to.
    await eventually(async () => expect((await readiness(api())).body.behind).toContain(held));
    return async () => runner.start();
  }
  const client = new PgClient({ connectionString: testDatabaseUrl() });
  await client.connect();
  const key = [storage.schema, `backplane-projection:${held}`];
  await client.query('SELECT pg_advisory_lock(hashtext($1), hashtext($2))', key);
  let released: Promise<void> | undefined;
  return () => {
    released ??= client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', key).then(() => client.end());
    return released;
  };
}

const cases = apiStores.flatMap((store) => (['audit-log', 'product'] as const).map((held) => [store, held] as const));

describe.each(cases)('a start over a long history new to the read models (%s, %s held back)', (store, held) => {
  let storage: TestStorage;
  let api: TestApi | undefined;
  let release: () => Promise<void> = async () => undefined;
  const { logger, lines } = recordingLogger();

  beforeAll(async () => {
    storage = await testStorage(store);
    const first = await startTestApi(storage);
    const rootToken = first.rootToken;
    const config = first.config;
    await first.close();
    // Appended behind the service's back, as a restore of the database or an upgrade's new projection would leave it.
    const backplane = await openBackplane(config);
    try {
      const metadata = { tenantId: 'default', actor: { kind: 'system', id: 'seed', name: 'seed', role: 'ADMIN' } };
      for (let stream = 0; stream < SEEDED / BATCH; stream++) {
        const events = Array.from({ length: BATCH }, (_, n) => ({ type: 'Seeded', data: { n }, metadata }));
        await backplane.store.appendToStream(held === 'product' ? `password-seed-${stream}` : `seed-${stream}`, events);
      }
    } finally {
      await backplane.close();
    }
    // Held from the start where it can be (see holdReadModel), otherwise once the service is up.
    const fromStart = store === 'postgres' && held === 'audit-log';
    if (fromStart) release = await holdReadModel(held, storage, () => api!);
    api = await startTestApi(storage, { rootToken, logger });
    if (!fromStart) release = await holdReadModel(held, storage, () => api!);
  }, 300_000);

  afterAll(async () => {
    await release();
    await api?.close();
    await storage?.dispose();
  });

  it('comes up at once and says on /readyz, with each projection progress, that the held read model is catching up', async () => {
    const { status, body } = await readiness(api!);
    expect(status).toBe(503);
    expect(body.behind).toContain(held);
    const behind = body.projections.find((projection) => projection.name === held)!;
    expect(behind).toMatchObject({ current: false, inline: false, head: expect.any(String) });
    expect(behind.eventsApplied).toEqual(expect.any(Number));
    // The other read model catches up (the audit log) or reads none of the streams added to (the
    // product's): once the log is counted, it is current.
    await eventually(async () => {
      const other = (await readiness(api!)).body.projections.find((projection) => projection.name !== held);
      expect(other).toMatchObject({ current: true, eventsBehind: 0 });
    }, 120_000);
    // The liveness check does not depend on the read models.
    expect((await fetch(new URL('/healthz', api!.url))).status).toBe(200);
    // Held, once the log is counted: what it has left, for the audit log on PostgreSQL (held from
    // the start) all the seeded events and what the service wrote as it started.
    await eventually(async () => {
      const still = (await readiness(api!)).body.projections.find((projection) => projection.name === held)!;
      expect(still).toMatchObject({ current: false, eventsBehind: expect.any(Number) });
      expect(still.eventsBehind).toBeGreaterThanOrEqual(store === 'postgres' && held === 'audit-log' ? SEEDED : 1);
    });
  }, 150_000);

  it('answers a query on a read model that is current', async () => {
    if (held === 'audit-log') {
      const answer = await api!.request(api!.rootToken, '{ me { role root tenant { id } } }');
      expect(answer.errors).toBeUndefined();
      expect(answer.data).toEqual({ me: { role: 'ADMIN', root: true, tenant: { id: 'default' } } });
    } else {
      const answer = await api!.request(api!.rootToken, ops.auditLog, { filter: { types: ['TenantCreated'] }, first: 5 });
      expect(answer.errors).toBeUndefined();
      expect((answer.data as any).auditLog.edges.map((edge: any) => edge.node.type)).toEqual(['TenantCreated']);
    }
  });

  if (held === 'product') {
    it('refuses a mutation at once, before its resolver runs, with a retry hint, and writes nothing', async () => {
      const before = await api!.service.backplane.store.headPosition();
      const tenantStream = await api!.service.backplane.store.readStream('tenant-default');
      const refusal = {
        message: expect.stringMatching(/\(product\): nothing was written; try again/),
        extensions: { code: 'UNAVAILABLE', retryAfterMs: expect.any(Number) },
      };
      const answer = await api!.request(api!.rootToken, CREATE_TOKEN);
      expect(answer.errors?.[0]).toMatchObject(refusal);
      // The same on the WebSocket.
      const overSocket = [];
      for await (const result of api!.ws(api!.rootToken).iterate({ query: CREATE_TOKEN })) overSocket.push(result);
      expect(overSocket).toHaveLength(1);
      expect(overSocket[0].errors?.[0]).toMatchObject(refusal);
      expect(await api!.service.backplane.store.headPosition()).toBe(before);
      expect(await api!.service.backplane.store.readStream('tenant-default')).toHaveLength(tenantStream.length);
      // The token kept aside for the change was taken back: nothing but the first token is known.
      const tokens = await api!.service.backplane.db.query<{ n: number }>('SELECT count(*)::int AS n FROM api_token_digests');
      expect(tokens[0].n).toBe(1);
    });

    it('answers a token it does not know UNAVAILABLE with a retry hint, not as revoked: it may be among the events not applied yet', async () => {
      const unknown = `bpk_${randomUUID().replaceAll('-', '')}`;
      const answer = await fetch(new URL('/graphql', api!.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${unknown}` },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(answer.status).toBe(503);
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      const body = (await answer.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
      expect(body.errors[0].message).toMatch(/the API token is not known yet: the read models are catching up with the log \(product\); try again in \d+ s/);
      expect(body.errors[0].extensions).toMatchObject({ code: 'UNAVAILABLE', retryAfterMs: expect.any(Number) });
      // A plain route, and the WebSocket (closed as a server asking to be tried again later, not 4403).
      const route = await fetch(new URL('/audit/export?format=jsonl', api!.url), { headers: { authorization: `Bearer ${unknown}` } });
      expect([route.status, ((await route.json()) as typeof body).errors[0].extensions.code]).toEqual([503, 'UNAVAILABLE']);
      expect(Number(route.headers.get('retry-after'))).toBeGreaterThan(0);
      const raw = await openRawSocket(api!.url);
      raw.send({ type: 'connection_init', payload: { authorization: `Bearer ${unknown}` } });
      expect((await raw.closed).code).toBe(1013);
    });

    it('answers the SSO callback 503 with a retry hint before it looks at the state', async () => {
      const response = await fetch(new URL('/oauth/gitlab/callback?state=unknown&code=abc', api!.url));
      expect(response.status).toBe(503);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      // An unknown state is otherwise answered 400: here it was not looked up.
      expect(await response.text()).toMatch(/catching up with its log: nothing was done\. Reload this page/);
    });
  } else {
    it('takes a change while only the audit history catches up, and auditLog answers at once with what it holds', async () => {
      const tenantStream = await api!.service.backplane.store.readStream('tenant-default');
      const answer = await api!.request(api!.rootToken, ops.createApiToken, { name: 'while-catching-up', role: 'VIEWER' });
      expect(answer.errors).toBeUndefined();
      const made = (answer.data as any).createApiToken;
      // Its answer shows the change, and the token works at once.
      expect(made.principal).toMatchObject({ name: 'while-catching-up', role: 'VIEWER' });
      const asViewer = await api!.request(made.token, '{ me { role } }');
      expect(asViewer).toEqual({ data: { me: { role: 'VIEWER' } } });
      expect((await api!.service.backplane.store.readStream('tenant-default')).map((event) => event.type)).toEqual([
        ...tenantStream.map((event) => event.type),
        'ApiTokenCreated',
      ]);
      // The history, still held, answers what it holds rather than wait for the catch-up: the change is not in it yet.
      const history = await api!.request(api!.rootToken, ops.auditLog, { filter: { types: ['ApiTokenCreated'] }, first: 50 });
      expect(history.errors).toBeUndefined();
      expect((history.data as any).auditLog.edges.map((edge: any) => edge.node.data.name)).not.toContain('while-catching-up');
      expect((await readiness(api!)).body.behind).toEqual(['audit-log']);
    });

    it('looks up the SSO callback state: an unknown one is answered 400', async () => {
      const response = await fetch(new URL('/oauth/gitlab/callback?state=unknown&code=abc', api!.url));
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/unknown, expired or already used/);
    });

    it("takes the service's own writes (a token refresh, a task's progress) while it catches up", async () => {
      const passwordId = randomUUID();
      const request = { principal: systemPrincipal('default'), correlationId: randomUUID() };
      const written = await write(api!.service.app, request, password, passwordStream(passwordId), {
        type: 'StorePassword',
        data: {
          passwordId,
          name: 'refreshed',
          description: 'written by Backplane itself',
          fingerprint: fingerprintOf('x'),
          secretId: randomUUID(),
          nameTaken: false,
        },
      });
      expect(written.position).not.toBeNull();
      expect((await api!.service.backplane.store.readStream(passwordStream(passwordId))).map((event) => event.type)).toEqual(['PasswordStored']);
      // Still catching up: the write was not held back until it was over.
      expect((await readiness(api!)).body.behind).toContain('audit-log');
    });
  }

  it('says in the log that it is catching up, then that the read models are current; /readyz then answers 200 and changes go through', async () => {
    expect(lines.some((line) => line.message === 'read models catching up' && JSON.stringify(line.fields).includes(held))).toBe(true);
    await release();
    await eventually(async () => expect((await readiness(api!)).status).toBe(200), 240_000, 200);
    expect(lines.some((line) => line.message === 'read models current')).toBe(true);
    const { body } = await readiness(api!);
    expect(body.projections.every((projection) => projection.current)).toBe(true);
    // The product's read models handed back to the appends once current; the history keeps its runner.
    await eventually(async () => {
      const projections = (await readiness(api!)).body.projections;
      expect(projections.map(({ name, inline }) => ({ name, inline }))).toEqual([
        { name: 'product', inline: true },
        { name: 'audit-log', inline: false },
      ]);
    });
    const answer = await api!.request(api!.rootToken, CREATE_TOKEN);
    expect(answer.errors).toBeUndefined();
    // Current: a token it does not know is unknown.
    const unknown = await api!.request(`bpk_${randomUUID().replaceAll('-', '')}`, '{ __typename }');
    expect(unknown.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    if (held === 'audit-log') {
      // The history caught up with the change taken meanwhile.
      const history = await api!.request(api!.rootToken, ops.auditLog, { filter: { types: ['ApiTokenCreated'] }, first: 50 });
      expect((history.data as any).auditLog.edges.map((edge: any) => edge.node.data.name)).toEqual(expect.arrayContaining(['while-catching-up', 'ci']));
    }
  }, 300_000);
});
