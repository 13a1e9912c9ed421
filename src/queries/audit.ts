import { redact } from '../core/redact';
import type { JsonValue } from '../eventstore/types';
import type { SqlExecutor } from '../sql/database';
import { asDate, asJson } from './sql-values';
import type { AuditEventView } from './views';

export interface AuditQuery {
  organizationId?: string;
  planId?: string;
  credentialId?: string;
  actorId?: string;
  types?: string[];
  from?: Date;
  to?: Date;
}

interface AuditRow {
  event_id: string;
  ordinal: unknown;
  position: string;
  type: string;
  occurred_at: unknown;
  recorded_at: unknown;
  actor_kind: string | null;
  actor_id: string | null;
  actor_name: string | null;
  actor_role: string | null;
  stream: string;
  data: unknown;
  correlation_id: string | null;
  causation_id: string | null;
  hash: string;
}

export function auditEventView(row: AuditRow): AuditEventView {
  return {
    id: row.event_id,
    cursor: row.position,
    type: row.type,
    occurredAt: asDate(row.occurred_at ?? row.recorded_at),
    actor: { kind: row.actor_kind, id: row.actor_id, name: row.actor_name, role: row.actor_role },
    streamName: row.stream,
    data: redact(asJson<JsonValue>(row.data)),
    correlationId: row.correlation_id,
    causationId: row.causation_id,
    hash: row.hash,
  };
}

/**
 * The event's data as a row of the history shows it. A row made from the events table of the same
 * database keeps no copy of it where nothing in it is redacted (projections/audit-log.ts): the
 * event's own is read by its position (`tx-seq`), for the rows of a page only. A page's events lie
 * close together in the index of positions; by their ids (random UUIDs), each took a page of that
 * index of its own, which a cold page of the history read from disk. `logInDatabase` says whether
 * the events table is there: on EventStoreDB every row keeps its copy. Readers redact what they
 * read again, so that the rule as it stands now applies to a row made before it changed.
 */
export function auditData(row: string, logInDatabase: boolean): string {
  if (!logInDatabase) return `${row}.data`;
  const position = `(split_part(${row}.position, '-', 1)::xid8, split_part(${row}.position, '-', 2)::bigint)`;
  return `COALESCE(${row}.data, (SELECT e.data FROM events e WHERE (e.tx_id, e.seq) = ${position}))`;
}

/** The columns of a page of the history, of the rows named `row`. */
function pageColumns(row: string, logInDatabase: boolean): string {
  return `${row}.event_id, ${row}.ordinal, ${row}.position, ${row}.type, ${row}.occurred_at, ${row}.recorded_at, ${row}.actor_kind, ${row}.actor_id,
          ${row}.actor_name, ${row}.actor_role, ${row}.stream, ${auditData(row, logInDatabase)} AS data, ${row}.correlation_id, ${row}.causation_id, ${row}.hash`;
}

export class UnknownCursorError extends Error {}

/** Up to this many event types are read as one ordered index range each and merged; more are filtered as one set. */
const MERGED_TYPES = 16;

/**
 * The cursor of the tenant's last event in the history, or null when it has none: a feed from
 * there, for this tenant, misses nothing the history did not show yet, and it says nothing of
 * what other tenants write (the history's own reach, a position in everyone's log, would).
 */
export async function tenantHistoryReach(db: SqlExecutor, tenantId: string): Promise<string | null> {
  const [row] = await db.query<{ position: string }>('SELECT position FROM audit_log WHERE tenant_id = $1 ORDER BY ordinal DESC LIMIT 1', [tenantId]);
  return row?.position ?? null;
}

/**
 * The tenant's history, oldest first, a page at a time; `after` is the cursor of the last event seen.
 * Every filter reads its own index in log order and stops at the page's end (keyset pagination on
 * the ordinal), so a page costs the same at the start of a long history as deep inside it.
 */
export async function auditPage(
  db: SqlExecutor,
  tenantId: string,
  query: AuditQuery,
  page: { first: number; after?: string },
  logInDatabase: boolean,
): Promise<{ events: AuditEventView[]; hasNextPage: boolean }> {
  const where = ['tenant_id = $1'];
  const params: unknown[] = [tenantId];
  const add = (clause: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    where.push(clause(`$${params.length}`));
  };
  if (page.after !== undefined) {
    const [row] = await db.query<{ ordinal: unknown }>('SELECT ordinal FROM audit_log WHERE tenant_id = $1 AND position = $2', [tenantId, page.after]);
    if (!row) throw new UnknownCursorError(`unknown cursor ${JSON.stringify(page.after)}`);
    add((p) => `ordinal > ${p}`, String(row.ordinal));
  }
  if (query.from !== undefined || query.to !== undefined) {
    // Ordinals and times of events rise nearly together but not strictly: the range's first and last
    // ordinals bound the walk in log order, so that it neither starts at the beginning nor runs on past the range.
    const bounds = await ordinalsWithin(db, tenantId, query.from, query.to);
    if (bounds === null) return { events: [], hasNextPage: false };
    add((p) => `ordinal >= ${p}`, bounds.first);
    add((p) => `ordinal <= ${p}`, bounds.last);
  }
  if (query.organizationId !== undefined) add((p) => `organization_id = ${p}`, query.organizationId);
  if (query.planId !== undefined) add((p) => `plan_id = ${p}`, query.planId);
  if (query.credentialId !== undefined) add((p) => `credential_id = ${p}`, query.credentialId);
  if (query.actorId !== undefined) add((p) => `actor_id = ${p}`, query.actorId);
  // Kept out of the index conditions (IS TRUE): the time index would read the whole range and sort it.
  if (query.from !== undefined) add((p) => `(occurred_at >= ${p}) IS TRUE`, query.from.toISOString());
  if (query.to !== undefined) add((p) => `(occurred_at < ${p}) IS TRUE`, query.to.toISOString());
  const types = query.types === undefined ? undefined : [...new Set(query.types)];
  if (types !== undefined && types.length > MERGED_TYPES) add((p) => `type = ANY(${p}::text[])`, types);
  params.push(page.first + 1);
  const limit = `$${params.length}`;
  const conditions = where.join(' AND ');
  let sql = `SELECT ${pageColumns('audit_log', logInDatabase)} FROM audit_log WHERE ${conditions} ORDER BY ordinal LIMIT ${limit}`;
  if (types !== undefined && types.length <= MERGED_TYPES) {
    if (types.length === 0) return { events: [], hasNextPage: false };
    // One ordered range of the (tenant, type, ordinal) index per type, merged: a set of types in one
    // condition would read every matching row and sort them.
    const ranges = types.map((type) => {
      params.push(type);
      return `(SELECT * FROM audit_log WHERE ${conditions} AND type = $${params.length} ORDER BY ordinal LIMIT ${limit})`;
    });
    sql = `SELECT ${pageColumns('page', logInDatabase)} FROM (${ranges.join(' UNION ALL ')}) page ORDER BY ordinal LIMIT ${limit}`;
  }
  const rows = await db.query<AuditRow>(sql, params);
  return { events: rows.slice(0, page.first).map(auditEventView), hasNextPage: rows.length > page.first };
}

/** The first and last ordinals of the tenant's events in [from, to), from the time index alone; null when there are none. */
async function ordinalsWithin(
  db: SqlExecutor,
  tenantId: string,
  from: Date | undefined,
  to: Date | undefined,
): Promise<{ first: string; last: string } | null> {
  const where = ['tenant_id = $1'];
  const params: unknown[] = [tenantId];
  if (from !== undefined) {
    params.push(from.toISOString());
    where.push(`occurred_at >= $${params.length}`);
  }
  if (to !== undefined) {
    params.push(to.toISOString());
    where.push(`occurred_at < $${params.length}`);
  }
  // ordinal + 0: a bare min(ordinal) is planned as a walk of the ordinal index from the start.
  const [row] = await db.query<{ first: string | null; last: string | null }>(
    `SELECT min(ordinal + 0)::text AS first, max(ordinal + 0)::text AS last FROM audit_log WHERE ${where.join(' AND ')}`,
    params,
  );
  return row?.first == null || row.last == null ? null : { first: row.first, last: row.last };
}
