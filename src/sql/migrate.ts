import { BackplaneError } from '../errors';
import type { SqlDatabase } from './database';

/** The database was migrated by a newer Backplane than this one. */
export class SchemaVersionError extends BackplaneError {
  constructor(component: string, found: number, known: number) {
    super('SCHEMA_TOO_NEW', `${component}: the database schema is at version ${found}, this Backplane knows versions up to ${known}; upgrade Backplane`);
  }
}

/** One migration: statements run in order, in the same transaction as the version bump. */
export type Migration = readonly string[];

/** The database's migrations could not take their locks in time: other sessions held the tables. */
export class MigrationLockError extends BackplaneError {
  constructor(component: string, waitedMs: number) {
    super(
      'MIGRATION_LOCKED',
      `${component}: the schema migration could not take its tables' locks in ${Math.round(waitedMs / 1000)} s: other sessions kept them (a long transaction?); start again once they end`,
    );
  }
}

export interface MigrateOptions {
  /**
   * How long each of a migration's statements waits for a lock before the migration lets go of
   * all it took and tries again (ms). Waiting on, it would hold every other statement on that
   * table behind it (PostgreSQL queues them after the waiting lock): a migration behind a running
   * process's long transaction would stall that process's appends until the transaction ended.
   * By default a second past the server's deadlock_timeout: PostgreSQL cancels an autovacuum that
   * is in a waiting lock's way only once that has passed, and the wait must outlast it.
   */
  lockTimeoutMs?: number;
  /** How long the migration keeps trying before it gives up with MigrationLockError (ms). */
  deadlineMs?: number;
}

/** The wait for a lock past the server's deadlock_timeout, by default (ms). */
const PAST_DEADLOCK_TIMEOUT_MS = 1000;
const DEADLINE_MS = 5 * 60_000;
/** lock_not_available: a lock not taken within lock_timeout. */
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Brings one component's tables to the newest version. Every process runs this on start;
 * an advisory lock makes concurrent starts take turns, and each migration is applied once.
 * Returns the version the component is at.
 */
export async function migrate(db: SqlDatabase, component: string, migrations: readonly Migration[], options: MigrateOptions = {}): Promise<number> {
  const lockTimeoutMs = options.lockTimeoutMs;
  // lock_timeout 0 would mean no bound at all.
  if (lockTimeoutMs !== undefined && !(Number.isInteger(lockTimeoutMs) && lockTimeoutMs >= 1)) {
    throw new RangeError(`lockTimeoutMs must be a whole number of 1 or more; given ${lockTimeoutMs}`);
  }
  const started = Date.now();
  const deadline = started + (options.deadlineMs ?? DEADLINE_MS);
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateOnce(db, component, migrations, lockTimeoutMs);
    } catch (error) {
      if ((error as { code?: unknown }).code !== LOCK_NOT_AVAILABLE) throw error;
      if (Date.now() >= deadline) throw new MigrationLockError(component, Date.now() - started);
      // Apart a while, longer each time and never in step with another process's tries.
      const pause = Math.min((lockTimeoutMs ?? PAST_DEADLOCK_TIMEOUT_MS) * 2 ** Math.min(attempt - 1, 4), 10_000) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, Math.max(deadline - Date.now(), 0))));
    }
  }
}

async function migrateOnce(db: SqlDatabase, component: string, migrations: readonly Migration[], lockTimeoutMs: number | undefined): Promise<number> {
  return db.transaction(async (tx) => {
    // Without a bound: another process's migration of the same database is waited for.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['backplane-migrate']);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS schema_versions (
         component text PRIMARY KEY,
         version integer NOT NULL,
         migrated_at timestamptz NOT NULL DEFAULT now())`,
    );
    const [row] = await tx.query<{ version: number }>('SELECT version FROM schema_versions WHERE component = $1', [component]);
    const current = row?.version ?? 0;
    if (current > migrations.length) throw new SchemaVersionError(component, current, migrations.length);
    if (current === migrations.length) return current;
    // Bounds the wait for each lock, not the statement's work (an index built over a long table).
    await tx.query(
      `SELECT set_config('lock_timeout', coalesce($1::int, extract(epoch FROM current_setting('deadlock_timeout')::interval) * 1000 + $2::int)::int || 'ms', true)`,
      [lockTimeoutMs ?? null, PAST_DEADLOCK_TIMEOUT_MS],
    );
    for (let version = current + 1; version <= migrations.length; version++) {
      for (const statement of migrations[version - 1]) await tx.query(statement);
    }
    await tx.query(
      `INSERT INTO schema_versions (component, version) VALUES ($1, $2)
       ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version, migrated_at = now()`,
      [component, migrations.length],
    );
    return migrations.length;
  });
}
