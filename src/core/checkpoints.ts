import type { SqlDatabase, SqlExecutor, SqlTransaction } from '../sql/database';
import { migrate, type Migration } from '../sql/migrate';
import type { Projection } from './projection';

// An append's first statement: it holds the projection's inline lock shared until it commits (a
// switch to or from inline takes it alone, and so waits for appends under way and holds new ones),
// then reads the mode with a snapshot taken once the lock is held, which only READ COMMITTED takes
// per statement. The lock takes no transaction id, so the append's id still comes after its
// stream's lock (see the store).
const INLINE_PROJECTION_MODE = `inline_projection_mode(p_name text, OUT o_inline boolean, OUT o_version integer)
     LANGUAGE plpgsql AS $fn$
     BEGIN
       IF current_setting('transaction_isolation') <> 'read committed' THEN
         RAISE EXCEPTION 'an append that keeps read models inline runs at READ COMMITTED, not %', current_setting('transaction_isolation')
           USING ERRCODE = 'invalid_transaction_state';
       END IF;
       PERFORM pg_advisory_xact_lock_shared(hashtext('backplane-inline'), hashtext(current_schema() || ':' || p_name));
       SELECT c.inline, c.version INTO o_inline, o_version FROM projection_checkpoints c WHERE c.name = p_name;
     END
     $fn$`;

// The lock alone, for a hand-over or a reset: appends queue behind the wait, so it is bounded; the
// transaction's own lock timeout is given back once it is held, for what follows.
const HOLD_INLINE_APPENDS = `hold_inline_appends(p_name text, p_timeout text) RETURNS void
     LANGUAGE plpgsql AS $fn$
     DECLARE
       v_previous text := current_setting('lock_timeout');
     BEGIN
       PERFORM set_config('lock_timeout', p_timeout, true);
       PERFORM pg_advisory_xact_lock(hashtext('backplane-inline'), hashtext(current_schema() || ':' || p_name));
       PERFORM set_config('lock_timeout', v_previous, true);
     END
     $fn$`;

const migrations: readonly Migration[] = [
  [
    `CREATE TABLE projection_checkpoints (
       name text PRIMARY KEY,
       version integer NOT NULL,
       position text,
       events_applied bigint NOT NULL DEFAULT 0,
       updated_at timestamptz NOT NULL DEFAULT now())`,
  ],
  [
    // Whether the read model is kept by the appends themselves, in their own transactions
    // (inline), rather than by the runner from its checkpoint.
    'ALTER TABLE projection_checkpoints ADD COLUMN inline boolean NOT NULL DEFAULT false',
    `CREATE OR REPLACE FUNCTION ${INLINE_PROJECTION_MODE}`,
  ],
  // The mode refuses other isolation levels than READ COMMITTED, and the lock alone has its function.
  [`CREATE OR REPLACE FUNCTION ${INLINE_PROJECTION_MODE}`, `CREATE OR REPLACE FUNCTION ${HOLD_INLINE_APPENDS}`],
  // Whether the read model still lacks the indexes a replay builds at its end (Projection.laterIndexes).
  ['ALTER TABLE projection_checkpoints ADD COLUMN indexes_pending boolean NOT NULL DEFAULT false'],
];

/**
 * Takes a projection's inline lock alone until the transaction ends: no append is under way, and
 * none starts. Appends queue behind the wait, so it waits at most `timeoutMs`, then fails
 * (lock_not_available), to be tried again, rather than hold every append; what the transaction
 * does next waits for its locks as anywhere else.
 */
export async function holdAppends(tx: SqlExecutor, name: string, timeoutMs: number): Promise<void> {
  await tx.query('SELECT hold_inline_appends($1, $2)', [name, `${timeoutMs}ms`]);
}

export interface Checkpoint {
  version: number;
  /** null: nothing applied yet. While inline, where the runner handed the read model to the appends. */
  position: string | null;
  /** Events the runner applied (the appends do not count theirs). */
  eventsApplied: number;
  /** Whether each append applies its own events to the read model, in its transaction: it then includes every committed event. */
  inline: boolean;
  /**
   * Whether the read model still lacks the indexes a replay builds once at the log's end (set by a
   * reset, cleared once they are built): until then it has reached no position, wherever it stands.
   */
  indexesPending: boolean;
}

interface CheckpointRow {
  version: number;
  position: string | null;
  events_applied: string;
  inline: boolean;
  indexes_pending: boolean;
}

export async function migrateCheckpoints(db: SqlDatabase): Promise<void> {
  await migrate(db, 'projections', migrations);
}

export async function readCheckpoint(db: SqlExecutor, name: string, forUpdate = false): Promise<Checkpoint | null> {
  const [row] = await db.query<CheckpointRow>(
    `SELECT version, position, events_applied::text AS events_applied, inline, indexes_pending FROM projection_checkpoints WHERE name = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [name],
    { prepared: true },
  );
  return row
    ? { version: row.version, position: row.position, eventsApplied: Number(row.events_applied), inline: row.inline, indexesPending: row.indexes_pending }
    : null;
}

/**
 * Notes that the read model has its later indexes (see Checkpoint.indexesPending), once its
 * checkpoint's row is held, found where the runner left it (`at`: its position, and whether the
 * appends keep it; a reset or a takeover meanwhile moved it) and the indexes are seen valid: a reset that committed meanwhile
 * dropped them with its tables, and leaves the note for the next replay. 'built' when the note is
 * off now, 'pending' when it stays, 'moved' when the checkpoint is no longer the runner's.
 */
export function indexesBuilt(
  db: SqlDatabase,
  projection: Projection,
  at: { position: string | null; inline: boolean },
  tell?: (tx: SqlTransaction) => Promise<void>,
): Promise<'built' | 'pending' | 'moved'> {
  return db.transaction(async (tx) => {
    const row = await readCheckpoint(tx, projection.name, true);
    if (!row || row.version !== projection.version || row.position !== at.position || row.inline !== at.inline) return 'moved';
    if (!row.indexesPending) return 'built';
    const names = laterIndexesOf(projection).map((index) => index.name);
    // A statement of its own: under READ COMMITTED it sees the catalog as a reset waited for above left it.
    const [{ valid }] = await tx.query<{ valid: number }>(
      'SELECT count(*)::int AS valid FROM unnest($1::text[]) AS later(name) JOIN pg_index i ON i.indexrelid = to_regclass(later.name) WHERE i.indisvalid',
      [names],
    );
    if (valid !== names.length) return 'pending';
    await tx.query('UPDATE projection_checkpoints SET indexes_pending = false, updated_at = now() WHERE name = $1', [projection.name]);
    await tell?.(tx);
    return 'built';
  });
}

/**
 * Moves the checkpoint past a batch; with `inline`, also hands the read model to the appends from
 * there on. Sent (see SqlTransaction.send): the transaction's commit waits for it.
 */
export function advanceCheckpoint(tx: SqlTransaction, name: string, position: string | null, applied: number, inline = false): void {
  void tx.send(
    'UPDATE projection_checkpoints SET position = $2, events_applied = events_applied + $3, inline = $4, updated_at = now() WHERE name = $1',
    [name, position, applied, inline],
    { prepared: true },
  );
}

/** How long a reset waits for the appends under way, and then for each of its tables (ms). */
const RESET_LOCK_TIMEOUT_MS = 10_000;

/**
 * Drops the projection's tables, creates them anew and sets its checkpoint back to the start,
 * where the runner applies it again (no longer inline: appends under way finish first). `tell`
 * runs in the same transaction: every process hears of the reset as it commits.
 */
export async function resetProjection(db: SqlDatabase, projection: Projection, tell?: (tx: SqlTransaction) => Promise<void>): Promise<void> {
  // A concurrent build of a later index holds its table for seconds: cancelled, the runner builds it again after the replay.
  await cancelIndexBuilds(db, projection.tables);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await db.transaction(async (tx) => {
        await holdAppends(tx, projection.name, RESET_LOCK_TIMEOUT_MS);
        // Every append waits while it holds them: its tables' locks are bounded the same way.
        await tx.query("SELECT set_config('lock_timeout', $1, true)", [`${RESET_LOCK_TIMEOUT_MS}ms`]);
        // First the lock an index build holds, which takes no transaction id, where the drop's lock
        // (logged for standbys) and the checkpoint's row lock take one: waiting with an id for a build
        // under way (one not cancelled, or started since) would hold every reader of the log.
        const existing = await tx.query<{ name: string }>('SELECT t AS name FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NOT NULL', [
          projection.tables,
        ]);
        if (existing.length > 0) await tx.query(`LOCK TABLE ${existing.map((table) => table.name).join(', ')} IN SHARE UPDATE EXCLUSIVE MODE`);
        await tx.query('SELECT name FROM projection_checkpoints WHERE name = $1 FOR UPDATE', [projection.name]);
        for (const table of projection.tables) await tx.query(`DROP TABLE IF EXISTS ${table} CASCADE`);
        for (const statement of projection.schema) await tx.query(statement);
        await tx.query(
          `INSERT INTO projection_checkpoints (name, version, position, events_applied, inline, indexes_pending) VALUES ($1, $2, NULL, 0, false, $3)
           ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, position = NULL, events_applied = 0, inline = false,
             indexes_pending = EXCLUDED.indexes_pending, updated_at = now()`,
          [projection.name, projection.version, laterIndexesOf(projection).length > 0],
        );
        await tell?.(tx);
      });
    } catch (error) {
      // A concurrent build lets go of its table just before it commits the index's last change,
      // which the drop may then meet ("tuple concurrently updated"): the reset is made again.
      if (attempt >= 3 || (error as { code?: unknown }).code !== 'XX000') throw error;
    }
  }
}

/** A later index's statement: the name it gives the index, and its table. */
const LATER_INDEX = /^CREATE INDEX ([a-z_][a-z0-9_]*) ON ([a-z_][a-z0-9_]*)\s/;

/** The projection's later indexes, each with its name and table; throws on a statement that does not name them as LATER_INDEX reads. */
export function laterIndexesOf(projection: Projection): { statement: string; name: string; table: string }[] {
  return (projection.laterIndexes ?? []).map((statement) => {
    const [, name, table] = LATER_INDEX.exec(statement) ?? [];
    if (name === undefined || table === undefined) {
      throw new Error(`projection ${projection.name}: a later index must read CREATE INDEX <name> ON <table> ...: ${statement}`);
    }
    return { statement, name, table };
  });
}

/**
 * The size of table from which later indexes are built CONCURRENTLY (bytes): under it, a plain
 * build takes milliseconds, where each concurrent one takes three transactions and waits for every
 * transaction of the database older than it (a first start on an empty log builds them all).
 */
export const CONCURRENT_INDEX_BYTES = 16 * 2 ** 20;

export interface LaterIndexOptions {
  /** See CONCURRENT_INDEX_BYTES. */
  concurrentFromBytes?: number;
  /** Told of each index before it is built concurrently, the number-th of those it builds so; may throw, to stop before it. */
  building?: (index: string, number: number, of: number) => void;
}

/**
 * Builds those of the projection's later indexes (see Projection.laterIndexes) that its tables
 * lack, or have left invalid by a build that failed or was cut short; returns how many it built.
 * From CONCURRENT_INDEX_BYTES, on a database other processes use (a PostgreSQL server), one by one
 * CONCURRENTLY: such a build takes no transaction id, which would hold every reader of a SQL
 * store's log behind it (none reads past a transaction still open) for as long as it took, nor a
 * lock that keeps writes or reads of the table waiting. Otherwise plainly, together in one
 * transaction: on PGlite every statement has the database to itself anyway, and a concurrent
 * build only reads the table twice.
 */
export async function buildLaterIndexes(db: SqlDatabase, projection: Projection, options: LaterIndexOptions = {}): Promise<number> {
  const { concurrentFromBytes = CONCURRENT_INDEX_BYTES, building = () => undefined } = options;
  const named = laterIndexesOf(projection);
  if (named.length === 0) return 0;
  const found = await db.query<{ name: string; valid: boolean | null; bytes: string | null }>(
    `SELECT later.name, i.indisvalid AS valid, pg_relation_size(to_regclass(later.tab))::text AS bytes
       FROM unnest($1::text[], $2::text[]) AS later(name, tab) LEFT JOIN pg_index i ON i.indexrelid = to_regclass(later.name)`,
    [named.map((index) => index.name), named.map((index) => index.table)],
  );
  const state = new Map(found.map((row) => [row.name, row]));
  const missing = named.filter((index) => state.get(index.name)?.valid !== true);
  const small = missing.filter((index) => !sharedServer(db) || Number(state.get(index.name)?.bytes ?? 0) < concurrentFromBytes);
  if (small.length > 0) {
    const drop = (index: (typeof small)[number]) => (state.get(index.name)?.valid === false ? [`DROP INDEX ${index.name}`] : []);
    await db.exec(small.flatMap((index) => [...drop(index), index.statement]).join(';\n'));
  }
  const large = missing.filter((index) => !small.includes(index));
  // A build still under way on these tables is one whose process let go of the projection or died
  // (the server finishes it alone): left running, it could finish after the drop below, or wait for
  // this process's snapshot while the drop waits for its lock.
  if (large.length > 0) await cancelIndexBuilds(db, [...new Set(large.map((index) => index.table))]);
  for (const [n, index] of large.entries()) {
    building(index.name, n + 1, large.length);
    if (state.get(index.name)?.valid === false) await db.exec(`DROP INDEX CONCURRENTLY IF EXISTS ${index.name}`);
    await db.exec(index.statement.replace(/^CREATE INDEX /, 'CREATE INDEX CONCURRENTLY '));
  }
  return missing.length;
}

/** Whether other processes use the database (a PostgreSQL server, which sends their notifications), not PGlite's one connection. */
function sharedServer(db: SqlDatabase): boolean {
  return db.notifications !== undefined;
}

/**
 * Cancels the index builds under way on these tables in other sessions (a concurrent build of the
 * runner, in this process or another), where the database's user may; a build it may not cancel is
 * waited for by what comes next, within its lock timeout.
 */
async function cancelIndexBuilds(db: SqlDatabase, tables: readonly string[]): Promise<void> {
  if (!sharedServer(db)) return;
  const builds = await db.query<{ pid: number }>(
    `SELECT p.pid FROM pg_stat_progress_create_index p
      WHERE p.relid = ANY (SELECT to_regclass(t) FROM unnest($1::text[]) AS t) AND p.pid <> pg_backend_pid()`,
    [tables],
  );
  // Each checked again as it is cancelled: a build that ended meanwhile leaves its connection to other statements.
  for (const { pid } of builds) {
    await db
      .query(
        `SELECT pg_cancel_backend(p.pid) FROM pg_stat_progress_create_index p
          WHERE p.pid = $1 AND p.relid = ANY (SELECT to_regclass(t) FROM unnest($2::text[]) AS t)`,
        [pid, tables],
      )
      .catch(() => undefined);
  }
}

/** Creates the projection's tables on first use; rebuilds them when its version changed. */
export async function prepareProjection(db: SqlDatabase, projection: Projection, tell?: (tx: SqlTransaction) => Promise<void>): Promise<Checkpoint> {
  const checkpoint = await readCheckpoint(db, projection.name);
  if (checkpoint && checkpoint.version === projection.version) return checkpoint;
  await resetProjection(db, projection, tell);
  return { version: projection.version, position: null, eventsApplied: 0, inline: false, indexesPending: laterIndexesOf(projection).length > 0 };
}
