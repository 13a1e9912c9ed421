import { auditLogProjection } from '../../projections/audit-log';
import type { JsonObject, JsonValue, RecordedEvent } from '../eventstore/types';
import type { SqlExecutor } from '../sql/database';
import { asDate } from './sql-values';

/** How far the audit history has read the log: its last row and the log position it includes, seen in one snapshot. */
export interface AuditHistoryReach {
  lastOrdinal: string;
  position: string;
}

/** Null while the audit history has not read any of the log. */
export async function auditHistoryReach(db: SqlExecutor): Promise<AuditHistoryReach | null> {
  // One statement, one snapshot: the checkpoint commits with the rows it covers.
  const [row] = await db.query<{ last: string | null; position: string | null }>(
    `SELECT (SELECT max(ordinal)::text FROM audit_log) AS last,
            (SELECT position FROM projection_checkpoints WHERE name = $1) AS position`,
    [auditLogProjection.name],
  );
  return row?.position ? { lastOrdinal: row.last ?? '0', position: row.position } : null;
}

export interface RecordedHistoryRow {
  ordinal: string;
  /** The event as the log holds it; null when the history names an event the log no longer has. */
  event: RecordedEvent | null;
}

interface Row {
  ordinal: string;
  position: string;
  id: string | null;
  stream: string;
  revision: string;
  type: string;
  data: JsonValue;
  metadata: JsonObject;
  hash: string;
  recorded_at: unknown;
}

/**
 * A page of the tenant's events as the log records them, in the order of its audit history (the
 * log's order): the history's index finds them, so a tenant's walk reads its own events and not
 * the whole log.
 */
export async function recordedHistoryPage(db: SqlExecutor, tenantId: string, after: string, upTo: string, limit: number): Promise<RecordedHistoryRow[]> {
  const rows = await db.query<Row>(
    // The page's ordinals first, from the tenant's index alone: asked in one join, the planner walks
    // every tenant's rows in ordinal order and drops the others'.
    `WITH page AS MATERIALIZED (
       SELECT ordinal FROM audit_log WHERE tenant_id = $1 AND ordinal > $2::bigint AND ordinal <= $3::bigint ORDER BY ordinal LIMIT $4)
     SELECT a.ordinal::text AS ordinal, a.position, e.id::text AS id, e.stream, e.revision::text AS revision, e.type, e.data, e.metadata, e.hash, e.recorded_at
       FROM page JOIN audit_log a ON a.ordinal = page.ordinal LEFT JOIN events e ON e.id = a.event_id
      ORDER BY a.ordinal`,
    [tenantId, after, upTo, limit],
  );
  return rows.map((row) => ({
    ordinal: row.ordinal,
    event:
      row.id === null
        ? null
        : {
            id: row.id,
            type: row.type,
            data: row.data,
            metadata: row.metadata,
            stream: row.stream,
            revision: BigInt(row.revision),
            position: row.position,
            recordedAt: asDate(row.recorded_at),
            hash: row.hash,
          },
  }));
}
