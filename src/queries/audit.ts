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
    data: asJson(row.data),
    correlationId: row.correlation_id,
    causationId: row.causation_id,
    hash: row.hash,
  };
}

export class UnknownCursorError extends Error {}

/** The tenant's history, oldest first, a page at a time; `after` is the cursor of the last event seen. */
export async function auditPage(
  db: SqlExecutor,
  tenantId: string,
  query: AuditQuery,
  page: { first: number; after?: string },
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
  if (query.organizationId !== undefined) add((p) => `organization_id = ${p}`, query.organizationId);
  if (query.planId !== undefined) add((p) => `plan_id = ${p}`, query.planId);
  if (query.credentialId !== undefined) add((p) => `credential_id = ${p}`, query.credentialId);
  if (query.actorId !== undefined) add((p) => `actor_id = ${p}`, query.actorId);
  if (query.types !== undefined) add((p) => `type = ANY(${p}::text[])`, query.types);
  if (query.from !== undefined) add((p) => `occurred_at >= ${p}`, query.from.toISOString());
  if (query.to !== undefined) add((p) => `occurred_at < ${p}`, query.to.toISOString());
  params.push(page.first + 1);
  const rows = await db.query<AuditRow>(`SELECT * FROM audit_log WHERE ${where.join(' AND ')} ORDER BY ordinal LIMIT $${params.length}`, params);
  return { events: rows.slice(0, page.first).map(auditEventView), hasNextPage: rows.length > page.first };
}
