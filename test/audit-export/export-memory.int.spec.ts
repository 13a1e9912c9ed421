import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedAuditEvents } from '../../bench/audit-seed';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import { spawnTs, type Child } from '../support/child';
import { describeWithPostgres, dropTestSchemas, newSchemaName, openPostgres } from '../support/databases';
import { eventually } from '../support/eventually';
import { testDatabaseUrl } from '../support/postgres-url';

const MAIN = join(__dirname, '..', '..', 'src', 'main.ts');
const EVENTS = 100_000;
/** The most the server's resident memory may grow while it streams the whole export (~100 MB of JSON lines). */
const GROWTH_BOUND_MB = 48;
const HEAP_CEILING_MB = 192;

/** Linux's accounting of a process's memory, in MB: now (VmRSS) and its peak since the last reset (VmHWM). */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

describeWithPostgres('the audit export of 100,000 events', () => {
  const schema = newSchemaName();
  const token = `bpk_test_${randomBytes(24).toString('base64url')}`;
  let dataDir: string;
  let child: Child;
  let base: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'audit-export-memory-'));
    child = spawnTs(MAIN, [], {
      BACKPLANE_EVENT_STORE: 'postgres',
      BACKPLANE_DATABASE_URL: testDatabaseUrl(),
      BACKPLANE_DATABASE_SCHEMA: schema,
      BACKPLANE_DATA_DIR: dataDir,
      BACKPLANE_MASTER_KEY: randomBytes(32).toString('base64'),
      BACKPLANE_BOOTSTRAP_TOKEN: token,
      PORT: '0',
      // V8 collects lazily while the heap has room: with a ceiling, what the export leaves behind is
      // collected as it goes, and a server that held the export (larger than the ceiling) would die.
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=${HEAP_CEILING_MB}`,
    });
    const line = await child.waitFor(/^Backplane GraphQL API: /, 90_000);
    base = new URL(line.replace(/^Backplane GraphQL API: /, '').trim()).origin;
    const me = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ me { tenant { id } } }' }),
    });
    const tenantId = ((await me.json()) as any).data.me.tenant.id;
    const db = await openPostgres(schema, 4);
    try {
      await seedAuditEvents(await SqlEventStore.open(db), tenantId, EVENTS);
      await eventually(
        async () => {
          const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1', [tenantId]);
          expect(row.n).toBeGreaterThanOrEqual(EVENTS);
        },
        240_000,
        500,
      );
    } finally {
      await db.close();
    }
  }, 400_000);

  afterAll(async () => {
    child?.process.kill('SIGTERM');
    await child?.exited;
    await rm(dataDir, { recursive: true, force: true });
    await dropTestSchemas();
  });

  /** Reads an export to its end without keeping it, counting lines and bytes. */
  async function drain(params: string): Promise<{ lines: number; bytes: number }> {
    const response = await fetch(`${base}/audit/export?${params}`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    let lines = 0;
    let bytes = 0;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      for (const byte of chunk) if (byte === 0x0a) lines += 1;
    }
    return { lines, bytes };
  }

  it('streams them in bounded memory', async () => {
    const pid = child.process.pid!;
    // Warm up the route, then start the peak from here (writing 5 to clear_refs resets VmHWM).
    await drain('format=jsonl&types=TenantCreated');
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    const before = memory(pid);
    const { lines, bytes } = await drain('format=jsonl');
    const after = memory(pid);
    const growth = after.peak - before.rss;
    process.stdout.write(
      `export of ${lines} lines, ${(bytes / 1024 / 1024).toFixed(1)} MB: server RSS ${before.rss.toFixed(1)} MB, peak ${after.peak.toFixed(1)} MB\n`,
    );
    expect(lines).toBeGreaterThanOrEqual(EVENTS);
    // The export is larger than the bound by far: holding it, or a good part of it, would break the bound.
    expect(bytes / 1024 / 1024).toBeGreaterThan(GROWTH_BOUND_MB * 2);
    expect(growth).toBeLessThan(GROWTH_BOUND_MB);
  }, 300_000);
});
