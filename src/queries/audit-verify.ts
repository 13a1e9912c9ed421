import { LOG_START, parsePosition } from '../eventstore/postgres/position';
import type { Position, StreamHead } from '../eventstore/types';
import type { SqlExecutor } from '../sql/database';

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

interface Row {
  position: string;
  id: string;
  stream: string;
  revision: string;
  type: string;
  data: string;
  metadata: string;
  hash: string;
  ours: boolean;
}

/** A page of a tenant's events, and where the next page starts after (null: this was the last). */
export interface TenantEventsPage {
  events: StoredEvent[];
  next: Position | null;
}

/**
 * Up to `limit` of the tenant's events after `after` (a position; null: from the start), in log
 * order, as the events table holds them: its index of each tenant's events (events_tenant_order)
 * finds them in that order, so a tenant's walk reads its own events and no read model's word on
 * which they are. The tenant is the one the event's own metadata names, a string equal to
 * `tenantId` (as the whole log's walk selects them). Nothing at or above the oldest open
 * transaction is read, as the store reads its log: a page ends where no later commit can add
 * events before its end. Data and metadata come as text, which is hashed without being parsed.
 */
export async function tenantEventsPage(db: SqlExecutor, tenantId: string, after: Position | null, limit: number): Promise<TenantEventsPage> {
  const from = after === null ? LOG_START : parsePosition(after);
  const rows = await db.query<Row>(
    // The index's digest of the tenant's text finds the rows; whether it is that string is told apart here (a
    // condition in WHERE, which the planner cannot estimate, made it sort the tenant's whole rest
    // at every page). ORDER BY names the table's columns: a bare name would sort by the text alias.
    `SELECT tx_id::text || '-' || seq::text AS position, id::text AS id, stream, revision::text AS revision, type,
            data::text AS data, metadata::text AS metadata, hash, metadata -> 'tenantId' = to_jsonb($1::text) AS ours
       FROM events
      WHERE md5(metadata ->> 'tenantId') = md5($1) AND (tx_id, seq) > ($2::xid8, $3::bigint) AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY events.tx_id, events.seq LIMIT $4`,
    [tenantId, from.tx.toString(), from.seq.toString(), limit],
    { prepareAs: 'backplane_audit_verify_tenant_page' },
  );
  const events: StoredEvent[] = [];
  for (const row of rows) {
    if (!row.ours) continue;
    events.push({
      id: row.id,
      type: row.type,
      stream: row.stream,
      revision: BigInt(row.revision),
      position: row.position,
      hash: row.hash,
      dataText: row.data,
      metadataText: row.metadata,
    });
  }
  return { events, next: rows.length < limit ? null : rows[rows.length - 1].position };
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
