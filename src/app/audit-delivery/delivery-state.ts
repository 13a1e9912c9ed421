import type { Position } from '../../eventstore/types';
import type { SqlDatabase } from '../../sql/database';
import { migrate, type Migration } from '../../sql/migrate';

const migrations: readonly Migration[] = [
  [
    // Outside the event log: an event per delivery (and per failed attempt) would bury the
    // history the deliveries carry. One row per destination, written by the process holding its lease.
    `CREATE TABLE audit_deliveries (
       destination_id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       checkpoint text NOT NULL,
       last_delivered_position text,
       last_delivered_at timestamptz,
       failing_since timestamptz,
       last_error text,
       attempts integer NOT NULL DEFAULT 0)`,
  ],
];

/**
 * Where each destination's delivery stands: the log position read through (every event up to it
 * delivered or not the destination's), and its failures. Times carry the database's clock.
 */
export class DeliveryStates {
  private constructor(private readonly db: SqlDatabase) {}

  static async open(db: SqlDatabase): Promise<DeliveryStates> {
    await migrate(db, 'audit-deliveries', migrations);
    return new DeliveryStates(db);
  }

  /** The position read through; null: nothing yet, the delivery starts where the destination was added. */
  async checkpoint(destinationId: string): Promise<Position | null> {
    const [row] = await this.db.query<{ checkpoint: string }>('SELECT checkpoint FROM audit_deliveries WHERE destination_id = $1', [destinationId]);
    return row?.checkpoint ?? null;
  }

  /**
   * Events up to `checkpoint` are done; `delivered` is the last one of them the destination took,
   * if any. Written only while the row still says `previous` (the checkpoint this holder read or
   * wrote last): false when it does not, as when another process took the lease over and moved
   * it, so that a holder that lost its lease never sets the checkpoint back.
   */
  async advanced(tenantId: string, destinationId: string, previous: Position, checkpoint: Position, delivered: Position | null): Promise<boolean> {
    const rows = await this.db.query<{ destination_id: string }>(
      `INSERT INTO audit_deliveries (destination_id, tenant_id, checkpoint, last_delivered_position, last_delivered_at)
       VALUES ($1, $2, $3, $4, CASE WHEN $4::text IS NULL THEN NULL ELSE now() END)
       ON CONFLICT (destination_id) DO UPDATE SET checkpoint = EXCLUDED.checkpoint,
         last_delivered_position = coalesce(EXCLUDED.last_delivered_position, audit_deliveries.last_delivered_position),
         last_delivered_at = coalesce(EXCLUDED.last_delivered_at, audit_deliveries.last_delivered_at),
         failing_since = CASE WHEN EXCLUDED.last_delivered_position IS NULL THEN audit_deliveries.failing_since END,
         last_error = CASE WHEN EXCLUDED.last_delivered_position IS NULL THEN audit_deliveries.last_error END,
         attempts = CASE WHEN EXCLUDED.last_delivered_position IS NULL THEN audit_deliveries.attempts ELSE 0 END
       WHERE audit_deliveries.checkpoint = $5
       RETURNING destination_id`,
      [destinationId, tenantId, checkpoint, delivered, previous],
    );
    return rows.length === 1;
  }

  /** An attempt failed; `error` says how, without the body sent or received. Returns the attempts failed in a row. */
  async failed(tenantId: string, destinationId: string, checkpoint: Position, error: string): Promise<number> {
    const [row] = await this.db.query<{ attempts: number }>(
      `INSERT INTO audit_deliveries (destination_id, tenant_id, checkpoint, failing_since, last_error, attempts)
       VALUES ($1, $2, $3, now(), $4, 1)
       ON CONFLICT (destination_id) DO UPDATE SET failing_since = coalesce(audit_deliveries.failing_since, now()),
         last_error = EXCLUDED.last_error, attempts = audit_deliveries.attempts + 1
       RETURNING attempts`,
      [destinationId, tenantId, checkpoint, error],
    );
    return Number(row.attempts);
  }
}
