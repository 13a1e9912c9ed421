/**
 * `npm run bench:store [-- --quick]`: the PostgreSQL event store's throughput next to its floor,
 * the same work done with bare `pg` statements on a comparable plain table.
 *
 * Appends are one event per call at 1 and 32 concurrent writers; reads page through the whole
 * log. Everything happens in a schema of its own on the server named by
 * BACKPLANE_BENCH_DATABASE_URL, dropped at the end whatever happens.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Client, Pool } from 'pg';
import { SqlEventStore } from '../src/eventstore/postgres/sql-event-store';
import type { ReadAllFrom } from '../src/eventstore/types';
import { PgDatabase } from '../src/sql/pg-database';

interface AppendCase {
  writers: number;
  /** Events per timed round, shared out among the writers. */
  events: number;
  /** Events written untimed before the first round. */
  warmup: number;
}

interface Plan {
  /** Timed rounds per measurement; the median is reported. */
  rounds: number;
  appends: readonly AppendCase[];
  pageSize: number;
  timeLimitMs: number;
}

const FULL: Plan = {
  rounds: 5,
  appends: [
    { writers: 1, events: 2_000, warmup: 500 },
    { writers: 32, events: 6_000, warmup: 1_600 },
  ],
  pageSize: 1_000,
  timeLimitMs: 10 * 60_000,
};

const QUICK: Plan = {
  rounds: 2,
  appends: [
    { writers: 1, events: 200, warmup: 50 },
    { writers: 32, events: 640, warmup: 320 },
  ],
  pageSize: 1_000,
  timeLimitMs: 2 * 60_000,
};

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';
const POOL_SIZE = 34;
const STREAMS_PER_WRITER = 10;
/** After the time limit, how long a stuck statement may keep the run from cleaning up after itself. */
const HARD_STOP_GRACE_MS = 30_000;
const APPEND_TARGET_RATIO = 0.6;
const READ_TARGET_RATE = 50_000;

// The floor for an event row: same payload, a sequence and a unique id, but no stream
// revision, no hash chain and no stream table to lock and update.
const RAW_TABLE = `CREATE TABLE raw_events (
  seq bigserial PRIMARY KEY,
  id uuid NOT NULL UNIQUE,
  stream text NOT NULL,
  type text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now())`;
const RAW_INSERT = 'INSERT INTO raw_events (id, stream, type, data, metadata) VALUES ($1, $2, $3, $4, $5)';
const RAW_PAGE = 'SELECT * FROM raw_events WHERE seq > $1 ORDER BY seq LIMIT $2';

/** Writes event number `index`, the writer's `nth` write. */
type WriteOne = (writer: number, nth: number, index: number) => Promise<void>;
/** Reads the whole log once and answers how many events it held. */
type ReadLog = () => Promise<number>;

interface Contenders<T> {
  ours: T;
  raw: T;
}

interface Row {
  label: string;
  rates: Contenders<number>;
  target?: string;
  met?: boolean;
}

function streamOf(writer: number, nth: number): string {
  return `bench-${writer}-${nth % STREAMS_PER_WRITER}`;
}

function payload(writer: number, index: number) {
  return {
    type: 'BenchEventRecorded',
    data: { i: index, writer, note: 'a benchmark event of a typical size' },
    metadata: { tenantId: 'bench-tenant', actor: `bench-writer-${writer}` },
  };
}

function appendOurs(store: SqlEventStore): WriteOne {
  return async (writer, nth, index) => {
    await store.appendToStream(streamOf(writer, nth), [payload(writer, index)], { expectedRevision: 'any' });
  };
}

function insertRaw(pool: Pool): WriteOne {
  return async (writer, nth, index) => {
    const { type, data, metadata } = payload(writer, index);
    await pool.query(RAW_INSERT, [randomUUID(), streamOf(writer, nth), type, JSON.stringify(data), JSON.stringify(metadata)]);
  };
}

function readOurs(store: SqlEventStore, pageSize: number, signal: AbortSignal): ReadLog {
  return async () => {
    let count = 0;
    let from: ReadAllFrom = 'start';
    for (;;) {
      signal.throwIfAborted();
      const page = await store.readAll({ fromPosition: from, maxCount: pageSize });
      count += page.length;
      if (page.length < pageSize) return count;
      from = page[page.length - 1].position;
    }
  };
}

function readRaw(pool: Pool, pageSize: number, signal: AbortSignal): ReadLog {
  return async () => {
    let count = 0;
    let after = '0';
    for (;;) {
      signal.throwIfAborted();
      const { rows } = await pool.query<{ seq: string }>(RAW_PAGE, [after, pageSize]);
      count += rows.length;
      if (rows.length < pageSize) return count;
      after = rows[rows.length - 1].seq;
    }
  };
}

/** Writes `total` events with `writers` concurrent loops taking the next index as they go; answers events/s. */
async function writeAll(total: number, writers: number, writeOne: WriteOne, signal: AbortSignal): Promise<number> {
  let next = 0;
  const loop = async (writer: number) => {
    for (let nth = 0; ; nth++) {
      signal.throwIfAborted();
      const index = next++;
      if (index >= total) return;
      try {
        await writeOne(writer, nth, index);
      } catch (error) {
        next = total; // the other loops stop after their write in hand, so none outlives the round
        throw error;
      }
    }
  };
  const started = performance.now();
  const outcomes = await Promise.allSettled(Array.from({ length: writers }, (_, writer) => loop(writer)));
  const seconds = (performance.now() - started) / 1000;
  const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failure) throw failure.reason;
  return total / seconds;
}

async function timeRead(readLog: ReadLog, expected: number, what: string): Promise<number> {
  const started = performance.now();
  const count = await readLog();
  const seconds = (performance.now() - started) / 1000;
  if (count !== expected) {
    throw new Error(
      `${what} read ${count} events, ${expected} were written (readAll hides events at or above the oldest open transaction: is one open on the server?)`,
    );
  }
  return count / seconds;
}

/**
 * Opens `count` connections in the pool before a timed round. pg closes clients idle for 10 s,
 * which the other contender's rounds can outlast, and reconnecting must not be timed.
 */
async function openConnections(query: (sql: string) => Promise<unknown>, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, () => query('SELECT 1')));
}

/**
 * Ours and raw take turns, round by round, so that noise from a shared machine falls on both alike.
 */
async function interleave(
  rounds: number,
  measure: Contenders<() => Promise<number>>,
  onRound: (round: number, rates: Contenders<number>) => void,
): Promise<Contenders<number>> {
  const ours: number[] = [];
  const raw: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    ours.push(await measure.ours());
    raw.push(await measure.raw());
    onRound(round, { ours: ours[ours.length - 1], raw: raw[raw.length - 1] });
  }
  return { ours: median(ours), raw: median(raw) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function writersLabel(writers: number): string {
  return `${writers} writer${writers === 1 ? '' : 's'}`;
}

function progress(line: string): void {
  process.stderr.write(`  ${line}\n`);
}

function formatTable(rows: Row[]): string[] {
  const labelWidth = Math.max(...rows.map((row) => row.label.length)) + 2;
  const rateWidth = Math.max(...rows.flatMap((row) => [formatCount(row.rates.ours).length, formatCount(row.rates.raw).length]));
  return rows.map((row) => {
    const ratio = row.rates.ours / row.rates.raw;
    const target = row.target === undefined ? '' : `   (target ${row.target}: ${row.met ? 'met' : 'MISSED'})`;
    return (
      `${`${row.label}:`.padEnd(labelWidth)}ours ${formatCount(row.rates.ours).padStart(rateWidth)} ev/s   ` +
      `raw ${formatCount(row.rates.raw).padStart(rateWidth)} ev/s   ratio ${ratio.toFixed(2)}${target}`
    );
  });
}

async function benchmarkAppends(plan: Plan, store: SqlEventStore, db: PgDatabase, raw: Pool, signal: AbortSignal): Promise<Row[]> {
  const rows: Row[] = [];
  const write: Contenders<WriteOne> = { ours: appendOurs(store), raw: insertRaw(raw) };
  for (const { writers, events, warmup } of plan.appends) {
    const label = writersLabel(writers);
    const measure = (who: keyof Contenders<unknown>, total: number) => async () => {
      await openConnections((sql) => (who === 'ours' ? db.query(sql) : raw.query(sql)), writers);
      return writeAll(total, writers, write[who], signal);
    };
    progress(`append, ${label}: warm-up (${formatCount(warmup)} events each)`);
    await measure('ours', warmup)();
    await measure('raw', warmup)();
    const rates = await interleave(plan.rounds, { ours: measure('ours', events), raw: measure('raw', events) }, (round, rates) =>
      progress(`append, ${label}: round ${round}/${plan.rounds}   ours ${formatCount(rates.ours)} ev/s   raw ${formatCount(rates.raw)} ev/s`),
    );
    const ratio = rates.ours / rates.raw;
    const isTargeted = writers > 1;
    rows.push({
      label: `append, ${label}`,
      rates,
      target: isTargeted ? `>= ${APPEND_TARGET_RATIO.toFixed(2)}` : undefined,
      met: isTargeted ? ratio >= APPEND_TARGET_RATIO : undefined,
    });
  }
  return rows;
}

async function benchmarkReads(plan: Plan, store: SqlEventStore, raw: Pool, written: number, signal: AbortSignal): Promise<Row> {
  const read: Contenders<() => Promise<number>> = {
    ours: () => timeRead(readOurs(store, plan.pageSize, signal), written, 'readAll'),
    raw: () => timeRead(readRaw(raw, plan.pageSize, signal), written, 'the raw read'),
  };
  progress(`readAll: warm-up pass each over ${formatCount(written)} events`);
  await read.ours();
  await read.raw();
  const rates = await interleave(plan.rounds, read, (round, rates) =>
    progress(`readAll: pass ${round}/${plan.rounds}   ours ${formatCount(rates.ours)} ev/s   raw ${formatCount(rates.raw)} ev/s`),
  );
  return { label: 'readAll', rates, target: `>= ${formatCount(READ_TARGET_RATE)} ev/s`, met: rates.ours >= READ_TARGET_RATE };
}

async function run(plan: Plan, url: string, schema: string, signal: AbortSignal): Promise<string[]> {
  const db = await PgDatabase.connect({ connectionString: url, schema, maxConnections: POOL_SIZE });
  const raw = new Pool({ connectionString: url, max: POOL_SIZE, options: `-c search_path=${schema}` });
  raw.on('error', () => undefined); // as PgDatabase does: a lost idle client must not crash the run
  try {
    const store = await SqlEventStore.open(db);
    await raw.query(RAW_TABLE);
    const [{ server_version: version }] = await db.query<{ server_version: string }>('SHOW server_version');

    const appendRows = await benchmarkAppends(plan, store, db, raw, signal);
    const written = plan.appends.reduce((sum, { events, warmup }) => sum + warmup + plan.rounds * events, 0);
    const readRow = await benchmarkReads(plan, store, raw, written, signal);

    const cases = plan.appends.map(({ writers, events }) => `${formatCount(events)} at ${writersLabel(writers)}`).join(', ');
    return [
      `Backplane store benchmark${plan === QUICK ? ' (--quick)' : ''}: PostgreSQL ${version}, Node ${process.version}, ${availableParallelism()} CPUs`,
      `medians of ${plan.rounds} interleaved rounds; appends of 1 event per call, events per round: ${cases};`,
      `readAll: ${formatCount(written)} events in pages of ${formatCount(plan.pageSize)}`,
      ...formatTable([...appendRows, readRow]),
    ];
  } finally {
    await dropSchema(db, schema);
    await Promise.allSettled([raw.end(), db.close()]);
  }
}

async function dropSchema(db: PgDatabase, schema: string): Promise<void> {
  try {
    await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } catch (error) {
    process.stderr.write(`bench: could not drop schema ${schema} (${describe(error)}); drop it by hand\n`);
  }
}

/** The last resort when a statement hangs past the time limit: drop on a connection of its own, briefly. */
async function forceDropSchema(url: string, schema: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000, statement_timeout: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } catch (error) {
    process.stderr.write(`bench: could not drop schema ${schema} (${describe(error)}); drop it by hand\n`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function planFromArgs(args: string[]): Plan {
  const unknown = args.filter((arg) => arg !== '--quick');
  if (unknown.length > 0) throw new Error(`unknown argument ${unknown[0]}; usage: npm run bench:store [-- --quick]`);
  return args.includes('--quick') ? QUICK : FULL;
}

async function main(): Promise<void> {
  const plan = planFromArgs(process.argv.slice(2));
  const url = process.env.BACKPLANE_BENCH_DATABASE_URL ?? DEFAULT_URL;
  const schema = `bench_${randomBytes(6).toString('hex')}`;

  // Loops check the signal between statements and unwind through the cleanup; the hard stop
  // is for a statement that never returns.
  const stop = new AbortController();
  const softStop = setTimeout(() => stop.abort(new Error(`time limit of ${plan.timeLimitMs / 1000} s reached`)), plan.timeLimitMs);
  const hardStop = setTimeout(() => {
    process.stderr.write('bench: still running after the time limit; giving up\n');
    void forceDropSchema(url, schema).finally(() => process.exit(2));
  }, plan.timeLimitMs + HARD_STOP_GRACE_MS);
  hardStop.unref();
  process.once('SIGINT', () => stop.abort(new Error('interrupted')));

  process.stderr.write(`bench: schema ${schema} on ${new URL(url).host}\n`);
  try {
    const lines = await run(plan, url, schema, stop.signal);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    clearTimeout(softStop);
    clearTimeout(hardStop);
  }
}

main().catch((error) => {
  process.stderr.write(`bench: ${describe(error)}\n`);
  process.exit(1);
});
