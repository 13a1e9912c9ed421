/**
 * `npm run bench:store [-- --quick] [-- --store esdb]`: the event store's throughput next to its
 * floor. On PostgreSQL (the default) the floor is the same work done with bare `pg` statements on
 * a comparable plain table; on EventStoreDB, see esdb-store.ts.
 *
 * Appends are one event per call at 1 and 32 concurrent writers; reads page through the whole
 * log. On PostgreSQL everything happens in a schema of its own on the server named by
 * BACKPLANE_BENCH_DATABASE_URL, dropped at the end whatever happens.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Client, Pool } from 'pg';
import { SqlEventStore } from '../src/eventstore/postgres/sql-event-store';
import { PgDatabase } from '../src/sql/pg-database';
import { runEsdb } from './esdb-store';
import {
  appendOurs,
  benchmarkAppends,
  benchmarkReads,
  caseLines,
  eventsWritten,
  FULL,
  formatTable,
  payload,
  QUICK,
  readOurs,
  streamOf,
  type Plan,
  type ReadLog,
  type WriteOne,
} from './measure';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';
const POOL_SIZE = 34;
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

function insertRaw(pool: Pool): WriteOne {
  return async (writer, nth, index) => {
    const { type, data, metadata } = payload(writer, index);
    await pool.query(RAW_INSERT, [randomUUID(), streamOf(writer, nth), type, JSON.stringify(data), JSON.stringify(metadata)]);
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

/**
 * Opens `count` connections in the pool before a timed round. pg closes clients idle for 10 s,
 * which the other contender's rounds can outlast, and reconnecting must not be timed.
 */
async function openConnections(query: (sql: string) => Promise<unknown>, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, () => query('SELECT 1')));
}

async function run(plan: Plan, url: string, schema: string, signal: AbortSignal): Promise<string[]> {
  const db = await PgDatabase.connect({ connectionString: url, schema, maxConnections: POOL_SIZE });
  const raw = new Pool({ connectionString: url, max: POOL_SIZE, options: `-c search_path=${schema}` });
  raw.on('error', () => undefined); // as PgDatabase does: a lost idle client must not crash the run
  try {
    const store = await SqlEventStore.open(db);
    await raw.query(RAW_TABLE);
    const [{ server_version: version }] = await db.query<{ server_version: string }>('SHOW server_version');

    const appendRows = await benchmarkAppends(
      plan,
      {
        write: { ours: appendOurs(store), raw: insertRaw(raw) },
        prepare: (who, writers) => openConnections((sql) => (who === 'ours' ? db.query(sql) : raw.query(sql)), writers),
        targetRatio: APPEND_TARGET_RATIO,
      },
      signal,
    );
    const written = eventsWritten(plan);
    const readRow = await benchmarkReads(
      plan,
      { ours: readOurs(store, plan.pageSize, signal), raw: readRaw(raw, plan.pageSize, signal) },
      { ours: written, raw: written },
      READ_TARGET_RATE,
    );

    return [
      `Backplane store benchmark${plan === QUICK ? ' (--quick)' : ''}: PostgreSQL ${version}, Node ${process.version}, ${availableParallelism()} CPUs`,
      ...caseLines(plan, written),
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

const USAGE = 'usage: npm run bench:store [-- --quick] [--store postgres|esdb]';

function optionsFromArgs(args: string[]): { plan: Plan; store: 'postgres' | 'esdb' } {
  let store: 'postgres' | 'esdb' = 'postgres';
  let quick = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--quick') quick = true;
    else if (args[i] === '--store' && (args[i + 1] === 'postgres' || args[i + 1] === 'esdb')) store = args[++i] as typeof store;
    else throw new Error(`unknown argument ${args[i]}; ${USAGE}`);
  }
  return { plan: quick ? QUICK : FULL, store };
}

async function main(): Promise<void> {
  const { plan, store } = optionsFromArgs(process.argv.slice(2));
  if (store === 'esdb') {
    process.stdout.write(`${(await runEsdb(plan)).join('\n')}\n`);
    return;
  }
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
