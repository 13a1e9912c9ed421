/**
 * `npm run bench:audit [-- --quick] [-- --events N]`: on the PostgreSQL server, a tenant's log of
 * N events (1,000,000; 100,000 with --quick) is exported as JSON lines over HTTP
 * (GET /audit/export?format=jsonl), against a floor measured in the same run: a raw
 * `COPY (SELECT ...) TO STDOUT` of the same rows by psql (the same join and previous-hash look-up,
 * without making lines), taking turns round by round, medians of 3. Then the time to sign a
 * digest (createAuditDigest) of the N events.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '../src/config';
import { startService } from '../src/service';
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
  if (!Number.isSafeInteger(count) || count < 1) throw new Error('usage: npm run bench:audit [-- --quick] [-- --events N]');
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
  const service = await startService(config, { host: '127.0.0.1' });
  try {
    const url = service.server.url;
    const base = new URL(url).origin;
    const tenantId: string = (await graphql(url, token, '{ me { tenant { id } } }')).me.tenant.id;
    process.stdout.write(
      `Backplane audit benchmark${quick ? ' (--quick)' : ''}: Node ${process.version}, ${availableParallelism()} CPUs, PostgreSQL, ${count} events\n`,
    );
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
  } finally {
    await service.close();
    await rm(dataDir, { recursive: true, force: true });
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => client.end());
  }
}

main().catch((error) => {
  process.stderr.write(`bench:audit failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
