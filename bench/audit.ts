/**
 * `npm run bench:audit [-- --quick] [-- --events N] [-- --deliveries D] [-- --delivery-only]`: on the PostgreSQL server, a tenant's log of
 * N events (1,000,000; 100,000 with --quick) is exported as JSON lines over HTTP
 * (GET /audit/export?format=jsonl), against a floor measured in the same run: a raw
 * `COPY (SELECT ...) TO STDOUT` of the same rows by psql (the same join and previous-hash look-up,
 * without making lines), taking turns round by round, medians of 3. Then the time to sign a
 * digest (createAuditDigest) of the N events. Last, delivery to a SIEM destination: a local
 * receiver (node:http, answering 200) is added through the API, D more events (5,000; 2,000 with
 * --quick; `--deliveries D`) are written, and the rate at which they arrive is set against a floor
 * measured in the same run: the same receiver taking the same bodies POSTed one at a time, in
 * order, by a loop of the delivery's own HTTP client (the best a sequential at-least-once sender could do).
 * `--delivery-only` measures the delivery alone, on an empty log.
 */
import { spawn } from 'node:child_process';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '../src/config';
import { startService } from '../src/service';
import { postSigned } from '../src/app/audit-delivery/post';
import { seedAuditEvents } from './audit-seed';
import { graphql, median } from './client';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';
const ROUNDS = 3;

/** Reads a whole export, keeping nothing; answers its lines and bytes. */
async function exportOnce(base: string, token: string): Promise<{ lines: number; bytes: number }> {
  const response = await fetch(`${base}/audit/export?format=jsonl`, { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200) throw new Error(`the export answered ${response.status}`);
  let lines = 0;
  let bytes = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) lines += 1;
  }
  return { lines, bytes };
}

/** psql's COPY of the same rows to /dev/null: what the database alone takes to hand them out. */
function copyOnce(databaseUrl: string, schema: string, tenantId: string): Promise<void> {
  const sql = `COPY (SELECT a.ordinal, e.id, e.type, e.data, e.metadata, e.stream, e.revision, a.position, e.recorded_at, e.hash,
                      (SELECT p.hash FROM events p WHERE p.stream = e.stream AND p.revision = e.revision - 1)
                 FROM audit_log a JOIN events e ON e.id = a.event_id
                WHERE a.tenant_id = '${tenantId.replaceAll("'", "''")}' ORDER BY a.ordinal) TO STDOUT`;
  return new Promise((resolve, reject) => {
    const psql = spawn('psql', [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-c', sql], {
      env: { ...process.env, PGOPTIONS: `-c search_path=${schema}` },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let errors = '';
    psql.stderr.on('data', (chunk: Buffer) => {
      errors += chunk.toString();
    });
    psql.on('error', reject);
    psql.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`psql exited ${code}: ${errors.trim()}`))));
  });
}

/** A body as the receiver took it: what the floor POSTs again, byte for byte, with the same headers. */
interface Received {
  body: string;
  headers: Record<string, string>;
}

/**
 * The local SIEM receiver: answers 200 to every POST, keeps each event's first body (a retried one
 * is counted once), checks the HMAC of every hundredth, and notes the times of the first and last
 * arrival.
 */
function siemReceiver(secret: string) {
  let bodies = new Map<string, Received>();
  let expected = 0;
  let first = 0;
  let last = 0;
  let badSignatures = 0;
  let onAll: (() => void) | null = null;
  const take = async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const id = String(request.headers['x-backplane-event-id'] ?? '');
    const now = performance.now();
    if (!bodies.has(id)) {
      if (bodies.size % 100 === 0) {
        const signature = Buffer.from(String(request.headers['x-backplane-signature'] ?? ''));
        const wanted = Buffer.from(`sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`);
        if (signature.length !== wanted.length || !timingSafeEqual(signature, wanted)) badSignatures += 1;
      }
      if (bodies.size === 0) first = now;
      last = now;
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'x-backplane-event-id', 'x-backplane-event-type', 'x-backplane-signature']) {
        headers[name] = String(request.headers[name] ?? '');
      }
      bodies.set(id, { body, headers });
    }
    response.writeHead(200).end();
    if (bodies.size >= expected && onAll) onAll();
  };
  const server = createServer((request, response) => {
    take(request, response).catch(() => response.destroy());
  });
  return {
    listen: () =>
      new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`))),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    /** Starts a round of `count` bodies; resolves with them when all have arrived. */
    expect(count: number): Promise<Received[]> {
      bodies = new Map();
      expected = count;
      return new Promise((resolve) => {
        onAll = () => {
          onAll = null;
          resolve([...bodies.values()]);
        };
      });
    },
    /** Events per second from the first arrival to the last. */
    rate: () => (bodies.size - 1) / ((last - first) / 1000),
    badSignatures: () => badSignatures,
    count: () => bodies.size,
  };
}

/** Fails, saying how far it got, rather than waiting for ever on a delivery that stalled. */
async function withDeadline<T>(promise: Promise<T>, ms: number, progress: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no end after ${ms} ms: ${progress()}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * The floor: the same bodies, in order, one at a time, each waiting for its answer, sent by the
 * delivery's own HTTP client, so that only what delivery adds (reading the log, signing, the
 * checkpoint) sets it apart.
 */
async function postInOrder(url: string, received: Received[]): Promise<void> {
  for (const { body, headers } of received) {
    const outcome = await postSigned(url, body, headers, 30_000);
    if (!outcome.ok) throw new Error(`the receiver ${outcome.error}`);
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const eventsAt = args.indexOf('--events');
  const count = eventsAt >= 0 ? Number(args[eventsAt + 1]) : quick ? 100_000 : 1_000_000;
  const deliveriesAt = args.indexOf('--deliveries');
  const deliveries = deliveriesAt >= 0 ? Number(args[deliveriesAt + 1]) : quick ? 2_000 : 5_000;
  const deliveryOnly = args.includes('--delivery-only');
  if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(deliveries) || deliveries < 2) {
    throw new Error('usage: npm run bench:audit [-- --quick] [-- --events N] [-- --deliveries D] [-- --delivery-only]');
  }
  const databaseUrl = process.env.BACKPLANE_BENCH_DATABASE_URL ?? process.env.BACKPLANE_TEST_DATABASE_URL ?? DEFAULT_URL;
  const schema = `bp_bench_${randomBytes(6).toString('hex')}`;
  const token = `bpk_bench_${randomBytes(24).toString('base64url')}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'backplane-bench-audit-'));
  const config = loadConfig({
    BACKPLANE_EVENT_STORE: 'postgres',
    BACKPLANE_DATA_DIR: dataDir,
    BACKPLANE_DATABASE_URL: databaseUrl,
    BACKPLANE_DATABASE_SCHEMA: schema,
    BACKPLANE_MASTER_KEY: randomBytes(32).toString('base64'),
    BACKPLANE_BOOTSTRAP_TOKEN: token,
    PORT: '0',
  });
  // Destinations looked for twice a second: a new one starts within the round it is added for.
  const service = await startService(config, { host: '127.0.0.1', auditDelivery: { scanEveryMs: 500 } });
  try {
    const url = service.server.url;
    const base = new URL(url).origin;
    const tenantId: string = (await graphql(url, token, '{ me { tenant { id } } }')).me.tenant.id;
    process.stdout.write(
      `Backplane audit benchmark${quick ? ' (--quick)' : ''}: Node ${process.version}, ${availableParallelism()} CPUs, PostgreSQL, ${deliveryOnly ? 'delivery only' : `${count} events`}\n`,
    );
    if (deliveryOnly) {
      await measureDelivery(service, url, token, tenantId, deliveries);
      return;
    }
    const seeding = await timed(async () => {
      await seedAuditEvents(service.app.store, tenantId, count);
      // The audit history catches up on its own; the export reads it.
      for (;;) {
        const [row] = await service.app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1', [tenantId]);
        if (row.n >= count) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    });
    process.stdout.write(`  set-up (append ${count} events, read models caught up): ${(seeding.ms / 1000).toFixed(1)} s\n`);

    const ours: number[] = [];
    const floor: number[] = [];
    let exported = { lines: 0, bytes: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const copy = await timed(() => copyOnce(databaseUrl, schema, tenantId));
      floor.push(copy.ms);
      const run = await timed(() => exportOnce(base, token));
      ours.push(run.ms);
      exported = run.value;
    }
    const rate = exported.lines / (median(ours) / 1000);
    const floorRate = exported.lines / (median(floor) / 1000);
    process.stdout.write(
      `  export, jsonl over HTTP: ${exported.lines} events, ${(exported.bytes / 1024 / 1024).toFixed(1)} MB, median ${(median(ours) / 1000).toFixed(2)} s: ${Math.round(rate)} events/s\n` +
        `  floor, psql COPY ... TO STDOUT of the same rows: median ${(median(floor) / 1000).toFixed(2)} s: ${Math.round(floorRate)} events/s\n` +
        `  ours / floor: ${(rate / floorRate).toFixed(2)} (target >= 0.5: ${rate / floorRate >= 0.5 ? 'met' : 'NOT met'})\n`,
    );

    const digest = await timed(() => graphql(url, token, 'mutation { createAuditDigest { __typename } }'));
    process.stdout.write(`  createAuditDigest over the ${count} events: ${(digest.ms / 1000).toFixed(2)} s\n`);

    await measureDelivery(service, url, token, tenantId, deliveries);
  } finally {
    await service.close();
    await rm(dataDir, { recursive: true, force: true });
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => client.end());
  }
}

/** Rounds of D events delivered to a local receiver, taking turns with the floor; medians. */
async function measureDelivery(service: Awaited<ReturnType<typeof startService>>, url: string, token: string, tenantId: string, count: number) {
  const secret = `siem-${randomBytes(24).toString('base64url')}`;
  const receiver = siemReceiver(secret);
  const receiverUrl = await receiver.listen();
  try {
    const passwordId: string = (
      await graphql(url, token, 'mutation($input: StorePasswordInput!) { storePassword(input: $input) { id } }', {
        input: { name: 'bench siem secret', secret },
      })
    ).storePassword.id;
    await graphql(url, token, 'mutation($input: AddAuditDestinationInput!) { addAuditDestination(input: $input) { id } }', {
      input: { name: 'bench siem', url: receiverUrl, passwordId },
    });
    const ours: number[] = [];
    const floor: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const arrived = receiver.expect(count);
      await seedAuditEvents(service.app.store, tenantId, count);
      const received = await withDeadline(arrived, 60_000 + count * 20, () => `${receiver.count()} of ${count} events delivered`);
      ours.push(receiver.rate());
      const replayed = receiver.expect(received.length);
      await postInOrder(receiverUrl, received);
      await replayed;
      floor.push(receiver.rate());
    }
    if (receiver.badSignatures() > 0) throw new Error(`${receiver.badSignatures()} sampled deliveries had a bad X-Backplane-Signature`);
    const rate = median(ours);
    const floorRate = median(floor);
    process.stdout.write(
      `  SIEM delivery to a local receiver (${count} events a round, medians of ${ROUNDS}): ${Math.round(rate)} events/s\n` +
        `  floor, the same bodies POSTed in order by the same HTTP client: ${Math.round(floorRate)} events/s\n` +
        `  delivery / floor: ${(rate / floorRate).toFixed(2)}\n`,
    );
  } finally {
    await receiver.close();
  }
}

main().catch((error) => {
  process.stderr.write(`bench:audit failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
