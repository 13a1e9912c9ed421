import type { SqlDatabase, SqlExecutor } from '../sql/database';
import { migrate, type Migration } from '../sql/migrate';
import type { Projection } from './projection';

const migrations: readonly Migration[] = [
  [
    `CREATE TABLE projection_checkpoints (
       name text PRIMARY KEY,
       version integer NOT NULL,
       position text,
       events_applied bigint NOT NULL DEFAULT 0,
       updated_at timestamptz NOT NULL DEFAULT now())`,
  ],
];

export interface Checkpoint {
  version: number;
  /** null: nothing applied yet. */
  position: string | null;
  eventsApplied: number;
}

interface CheckpointRow {
  version: number;
  position: string | null;
  events_applied: string;
}

export async function migrateCheckpoints(db: SqlDatabase): Promise<void> {
  await migrate(db, 'projections', migrations);
}

export async function readCheckpoint(db: SqlExecutor, name: string, forUpdate = false): Promise<Checkpoint | null> {
  const [row] = await db.query<CheckpointRow>(
    `SELECT version, position, events_applied::text AS events_applied FROM projection_checkpoints WHERE name = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [name],
  );
  return row ? { version: row.version, position: row.position, eventsApplied: Number(row.events_applied) } : null;
}

export async function advanceCheckpoint(tx: SqlExecutor, name: string, position: string, applied: number): Promise<void> {
  await tx.query('UPDATE projection_checkpoints SET position = $2, events_applied = events_applied + $3, updated_at = now() WHERE name = $1', [
    name,
    position,
    applied,
  ]);
}

/** Drops the projection's tables, creates them anew and sets its checkpoint back to the start. */
export async function resetProjection(db: SqlDatabase, projection: Projection): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT name FROM projection_checkpoints WHERE name = $1 FOR UPDATE', [projection.name]);
    for (const table of projection.tables) await tx.query(`DROP TABLE IF EXISTS ${table} CASCADE`);
    for (const statement of projection.schema) await tx.query(statement);
    await tx.query(
      `INSERT INTO projection_checkpoints (name, version, position, events_applied) VALUES ($1, $2, NULL, 0)
       ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, position = NULL, events_applied = 0, updated_at = now()`,
      [projection.name, projection.version],
    );
  });
}

/** Creates the projection's tables on first use; rebuilds them when its version changed. */
export async function prepareProjection(db: SqlDatabase, projection: Projection): Promise<Checkpoint> {
  const checkpoint = await readCheckpoint(db, projection.name);
  if (checkpoint && checkpoint.version === projection.version) return checkpoint;
  await resetProjection(db, projection);
  return { version: projection.version, position: null, eventsApplied: 0 };
}
