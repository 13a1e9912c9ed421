import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { write } from '../../src/app/deps';
import { systemPrincipal } from '../../src/app/principal';
import { openBackplane } from '../../src/backplane';
import type { Logger } from '../../src/core/logger';
import type { ProjectionStatus } from '../../src/core/read-model-progress';
import { fingerprintOf, password, passwordStream } from '../../src/domain/password';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { testDatabaseUrl } from '../support/postgres-url';

/** Events the audit log, which reads every stream, has to catch up with when the service starts again. */
const SEEDED = 20_000;
const BATCH = 500;

const CREATE_TOKEN = 'mutation { createApiToken(input: { name: "ci", role: VIEWER }) { token } }';

function recordingLogger() {
  const lines: { message: string; fields: Record<string, unknown> }[] = [];
  const record = (message: string, fields: Record<string, unknown> = {}) => void lines.push({ message, fields });
  const logger: Logger = { info: record, warn: record, error: record };
  return { logger, lines };
}

interface Readiness {
  status: string;
  behind: string[];
  projections: ProjectionStatus[];
}

async function readiness(api: TestApi): Promise<{ status: number; body: Readiness }> {
  const response = await fetch(new URL('/readyz', api.url));
  return { status: response.status, body: (await response.json()) as Readiness };
}

/**
 * On PostgreSQL, a transaction of the test's own holds the audit log's checkpoint row, so that its
 * runner cannot commit a batch until the test lets go: the catch-up lasts exactly as long as the
 * test needs it to. PGlite has one connection, the service's, and the catch-up may be over by the
 * time the service is up: there its read model is set back to the start once the service is up (a
 * rebuild, which sets it behind whatever it had reached), its runner stopped after the first batch
 * it applies again, and started again on release.
 */
async function holdAuditLog(storage: TestStorage, api: () => TestApi): Promise<() => Promise<void>> {
  if (storage.store !== 'postgres') {
    const runner = api().service.backplane.runner('audit-log');
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
    await eventually(async () => expect((await readiness(api())).body.behind).toContain('audit-log'));
    return async () => runner.start();
  }
  const client = new PgClient({ connectionString: testDatabaseUrl() });
  await client.connect();
  await client.query('BEGIN');
  await client.query(`SELECT name FROM ${storage.schema}.projection_checkpoints WHERE name = 'audit-log' FOR UPDATE`);
  let released: Promise<void> | undefined;
  return () => {
    released ??= client.query('COMMIT').then(() => client.end());
    return released;
  };
}

describe.each(apiStores)('a start over a long history new to the read models (%s)', (store) => {
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
        await backplane.store.appendToStream(`seed-${stream}`, events);
      }
    } finally {
      await backplane.close();
    }
    if (store === 'postgres') release = await holdAuditLog(storage, () => api!);
    api = await startTestApi(storage, { rootToken, logger });
    if (store === 'pglite') release = await holdAuditLog(storage, () => api!);
  }, 300_000);

  afterAll(async () => {
    await release();
    await api?.close();
    await storage?.dispose();
  });

  it('comes up at once and says on /readyz, with each projection progress, that the audit log is catching up', async () => {
    const { status, body } = await readiness(api!);
    expect(status).toBe(503);
    expect(body.behind).toContain('audit-log');
    const auditLog = body.projections.find((projection) => projection.name === 'audit-log')!;
    expect(auditLog).toMatchObject({ current: false, head: expect.any(String) });
    expect(auditLog.eventsApplied).toEqual(expect.any(Number));
    // The product's read models read none of the streams added to: once the log is counted, they are current.
    await eventually(async () => {
      const product = (await readiness(api!)).body.projections.find((projection) => projection.name === 'product');
      expect(product).toMatchObject({ current: true, eventsBehind: 0 });
    });
    // The liveness check does not depend on the read models.
    expect((await fetch(new URL('/healthz', api!.url))).status).toBe(200);
    // Held, once the log is counted: what it has left, all of it on PostgreSQL (held from the start).
    await eventually(async () => {
      const held = (await readiness(api!)).body.projections.find((projection) => projection.name === 'audit-log')!;
      expect(held).toMatchObject({ current: false, eventsBehind: store === 'postgres' ? SEEDED : expect.any(Number) });
      expect(held.eventsBehind).toBeGreaterThan(0);
    });
  });

  it('answers a query on a read model that is current', async () => {
    const answer = await api!.request(api!.rootToken, '{ me { role root tenant { id } } }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({ me: { role: 'ADMIN', root: true, tenant: { id: 'default' } } });
  });

  it('refuses a mutation at once, before its resolver runs, with a retry hint, and writes nothing', async () => {
    const before = await api!.service.backplane.store.headPosition();
    const tenantStream = await api!.service.backplane.store.readStream('tenant-default');
    const refusal = {
      message: expect.stringMatching(/audit-log.*nothing was written; try again/),
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

  it('answers the SSO callback 503 with a retry hint before it looks at the state', async () => {
    const response = await fetch(new URL('/oauth/gitlab/callback?state=unknown&code=abc', api!.url));
    expect(response.status).toBe(503);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    // An unknown state is otherwise answered 400: here it was not looked up.
    expect(await response.text()).toMatch(/catching up with its log: nothing was done\. Reload this page/);
  });

  it("takes the service's own writes (a token refresh, a task's progress) while they catch up", async () => {
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

  it('says in the log that it is catching up, then that the read models are current; /readyz then answers 200 and changes go through', async () => {
    expect(lines.some((line) => line.message === 'read models catching up' && JSON.stringify(line.fields).includes('audit-log'))).toBe(true);
    await release();
    await eventually(async () => expect((await readiness(api!)).status).toBe(200), 240_000, 200);
    expect(lines.some((line) => line.message === 'read models current')).toBe(true);
    const { body } = await readiness(api!);
    expect(body.projections.every((projection) => projection.current)).toBe(true);
    const answer = await api!.request(api!.rootToken, CREATE_TOKEN);
    expect(answer.errors).toBeUndefined();
  }, 300_000);
});
