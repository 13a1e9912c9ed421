import { auditLogProjection } from '../../projections/audit-log';
import type { StreamHead } from '../eventstore/types';
import type { SqlExecutor } from '../sql/database';

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

/**
 * Where each of the tenant's next pages of the history ends (its last ordinal), for up to `pages`
 * pages of `pageSize` after `after`: pages known in advance can be read at the same time. Read
 * from the tenant's index alone.
 */
export async function historyPageEnds(db: SqlExecutor, tenantId: string, after: string, upTo: string, pageSize: number, pages: number): Promise<string[]> {
  const rows = await db.query<{ last: string }>(
    `SELECT max(ordinal)::text AS last FROM (
       SELECT ordinal, (row_number() OVER (ORDER BY ordinal) - 1) / $4 AS page
         FROM (SELECT ordinal FROM audit_log WHERE tenant_id = $1 AND ordinal > $2::bigint AND ordinal <= $3::bigint ORDER BY ordinal LIMIT $5) ours) paged
      GROUP BY page ORDER BY page`,
    [tenantId, after, upTo, pageSize, pageSize * pages],
  );
  return rows.map((row) => row.last);
}

/** An event as the log holds it, its data and metadata as PostgreSQL prints them (hashed as they are). */
export interface StoredEvent {
  id: string;
  type: string;
  stream: string;
  revision: bigint;
  position: string;
  hash: string;
  dataText: string;
  metadataText: string;
}

export interface RecordedHistoryRow {
  ordinal: string;
  /** The event as the log holds it; null when the history names an event the log no longer has. */
  event: StoredEvent | null;
  /** Whether the event's own metadata names the tenant (the history's row may say so wrongly). */
  ours: boolean;
}

interface Row {
  ordinal: string;
  position: string;
  id: string | null;
  stream: string;
  revision: string;
  type: string;
  data: string;
  metadata: string;
  hash: string;
  ours: boolean;
}

/**
 * A page of the tenant's events as the log records them, in the order of its audit history (the
 * log's order): the history's index finds them, so a tenant's walk reads its own events and not
 * the whole log. Data and metadata come as text, which is hashed without being parsed.
 */
export async function recordedHistoryPage(db: SqlExecutor, tenantId: string, after: string, upTo: string, limit: number): Promise<RecordedHistoryRow[]> {
  const rows = await db.query<Row>(
    // The page's ordinals first, from the tenant's index alone: asked in one join, the planner walks
    // every tenant's rows in ordinal order and drops the others'.
    `WITH page AS MATERIALIZED (
       SELECT ordinal FROM audit_log WHERE tenant_id = $1 AND ordinal > $2::bigint AND ordinal <= $3::bigint ORDER BY ordinal LIMIT $4)
     SELECT a.ordinal::text AS ordinal, a.position, e.id::text AS id, e.stream, e.revision::text AS revision, e.type,
            e.data::text AS data, e.metadata::text AS metadata, e.hash, coalesce(e.metadata->'tenantId' = to_jsonb($1::text), false) AS ours
       FROM page JOIN audit_log a ON a.ordinal = page.ordinal LEFT JOIN events e ON e.id = a.event_id
      ORDER BY a.ordinal`,
    [tenantId, after, upTo, limit],
    { prepareAs: 'backplane_audit_verify_page' },
  );
  return rows.map((row) => ({
    ordinal: row.ordinal,
    ours: row.ours,
    event:
      row.id === null
        ? null
        : {
            id: row.id,
            type: row.type,
            stream: row.stream,
            revision: BigInt(row.revision),
            position: row.position,
            hash: row.hash,
            dataText: row.data,
            metadataText: row.metadata,
          },
  }));
}

/** The recorded heads (last revision and hash) of the named streams, kept apart from their events. */
export async function streamHeadsOf(db: SqlExecutor, streams: string[]): Promise<Map<string, StreamHead>> {
  const heads = new Map<string, StreamHead>();
  for (let i = 0; i < streams.length; i += HEADS_AT_ONCE) {
    const rows = await db.query<{ name: string; revision: string; last_hash: string }>(
      'SELECT name, revision::text AS revision, last_hash FROM event_streams WHERE name = ANY($1::text[]) AND revision >= 0',
      [streams.slice(i, i + HEADS_AT_ONCE)],
    );
    for (const row of rows) heads.set(row.name, { revision: BigInt(row.revision), hash: row.last_hash });
  }
  return heads;
}

const HEADS_AT_ONCE = 1000;
