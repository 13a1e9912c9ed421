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

/**
 * Brings one component's tables to the newest version. Every process runs this on start;
 * an advisory lock makes concurrent starts take turns, and each migration is applied once.
 * Returns the version the component is at.
 */
export async function migrate(db: SqlDatabase, component: string, migrations: readonly Migration[]): Promise<number> {
  return db.transaction(async (tx) => {
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
    for (let version = current + 1; version <= migrations.length; version++) {
      for (const statement of migrations[version - 1]) await tx.query(statement);
    }
    if (current < migrations.length) {
      await tx.query(
        `INSERT INTO schema_versions (component, version) VALUES ($1, $2)
         ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version, migrated_at = now()`,
        [component, migrations.length],
      );
    }
    return migrations.length;
  });
}
