import type { CsvEvent } from '../audit-export/csv';
import type { ExportedEventText } from '../audit-export/export-line';
import { redact } from '../core/redact';
import type { JsonValue } from '../eventstore/types';
import type { SqlExecutor } from '../sql/database';
import { type AuditQuery, auditData } from './audit';
import { asJson } from './sql-values';

/** Where a page of an export starts (exclusive) and the last row of the export (inclusive), by audit_log ordinal. */
export interface ExportRange {
  after: string;
  upTo: string;
}

/** The tenant's newest audit row now: an export reads up to it, so events written meanwhile do not make it endless. */
export async function exportRange(db: SqlExecutor, tenantId: string): Promise<ExportRange> {
  const [row] = await db.query<{ last: string | null }>('SELECT max(ordinal)::text AS last FROM audit_log WHERE tenant_id = $1', [tenantId]);
  return { after: '0', upTo: row?.last ?? '0' };
}

/** The WHERE clause of a page: the tenant, the range, and auditLog's filters with the same meaning as auditPage's. */
function pageWhere(tenantId: string, query: AuditQuery, range: ExportRange, alias: string): { where: string; params: unknown[] } {
  const params: unknown[] = [];
  const clauses: string[] = [];
  const add = (clause: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    clauses.push(clause(`$${params.length}`));
  };
  add((p) => `${alias}.tenant_id = ${p}`, tenantId);
  add((p) => `${alias}.ordinal > ${p}::bigint`, range.after);
  add((p) => `${alias}.ordinal <= ${p}::bigint`, range.upTo);
  if (query.organizationId !== undefined) add((p) => `${alias}.organization_id = ${p}`, query.organizationId);
  if (query.planId !== undefined) add((p) => `${alias}.plan_id = ${p}`, query.planId);
  if (query.credentialId !== undefined) add((p) => `${alias}.credential_id = ${p}`, query.credentialId);
  if (query.actorId !== undefined) add((p) => `${alias}.actor_id = ${p}`, query.actorId);
  if (query.types !== undefined) add((p) => `${alias}.type = ANY(${p}::text[])`, query.types);
  if (query.from !== undefined) add((p) => `${alias}.occurred_at >= ${p}`, query.from.toISOString());
  if (query.to !== undefined) add((p) => `${alias}.occurred_at < ${p}`, query.to.toISOString());
  return { where: clauses.join(' AND '), params };
}

const ISO_UTC = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

export interface Paged<T> {
  rows: T[];
  /** The ordinal of the page's last row: where the next page starts. */
  last: string | null;
}

/**
 * A page of the tenant's events as recorded, where the event log and the audit history share a
 * database: data and metadata come back as the database's JSON text, and each event's previous
 * hash from the event before it in its stream (one index look-up on (stream, revision)).
 */
export async function exportedEventPage(
  db: SqlExecutor,
  tenantId: string,
  query: AuditQuery,
  range: ExportRange,
  limit: number,
): Promise<Paged<ExportedEventText>> {
  const { where, params } = pageWhere(tenantId, query, range, 'a');
  params.push(limit);
  const rows = await db.query<{
    ordinal: string;
    id: string;
    type: string;
    data: string;
    metadata: string;
    stream: string;
    revision: string;
    position: string;
    recorded_at: string;
    previous_hash: string | null;
    hash: string;
  }>(
    `SELECT a.ordinal::text AS ordinal, e.id::text AS id, e.type, e.data::text AS data, e.metadata::text AS metadata, e.stream, e.revision::text AS revision,
            a.position, to_char(e.recorded_at AT TIME ZONE 'UTC', ${ISO_UTC}) AS recorded_at, e.hash,
            (SELECT p.hash FROM events p WHERE p.stream = e.stream AND p.revision = e.revision - 1) AS previous_hash
       FROM audit_log a JOIN events e ON e.id = a.event_id
      WHERE ${where}
      ORDER BY a.ordinal
      LIMIT $${params.length}`,
    params,
  );
  return {
    last: rows.at(-1)?.ordinal ?? null,
    rows: rows.map((row) => ({
      id: row.id,
      type: row.type,
      dataJson: row.data,
      metadataJson: row.metadata,
      stream: row.stream,
      revision: BigInt(row.revision),
      position: row.position,
      recordedAt: row.recorded_at,
      previousHash: row.previous_hash ?? '0'.repeat(64),
      hash: row.hash,
    })),
  };
}

/** Where an event of the tenant's history stands, for reading it from a store that keeps its events elsewhere. */
export interface AuditPlace {
  eventId: string;
  stream: string;
  revision: bigint;
}

export async function auditPlacePage(db: SqlExecutor, tenantId: string, query: AuditQuery, range: ExportRange, limit: number): Promise<Paged<AuditPlace>> {
  const { where, params } = pageWhere(tenantId, query, range, 'a');
  params.push(limit);
  const rows = await db.query<{ ordinal: string; event_id: string; stream: string; revision: string }>(
    `SELECT a.ordinal::text AS ordinal, a.event_id::text AS event_id, a.stream, a.revision::text AS revision
       FROM audit_log a WHERE ${where} ORDER BY a.ordinal LIMIT $${params.length}`,
    params,
  );
  return { last: rows.at(-1)?.ordinal ?? null, rows: rows.map((row) => ({ eventId: row.event_id, stream: row.stream, revision: BigInt(row.revision) })) };
}

/** A page of the tenant's history as people read it (data redacted), for the spreadsheet export. */
export async function csvEventPage(
  db: SqlExecutor,
  tenantId: string,
  query: AuditQuery,
  range: ExportRange,
  limit: number,
  logInDatabase: boolean,
): Promise<Paged<CsvEvent>> {
  const { where, params } = pageWhere(tenantId, query, range, 'a');
  params.push(limit);
  const rows = await db.query<{
    ordinal: string;
    occurred_at: string;
    actor_name: string | null;
    actor_id: string | null;
    actor_role: string | null;
    type: string;
    organization_id: string | null;
    plan_id: string | null;
    credential_id: string | null;
    data: unknown;
    correlation_id: string | null;
    hash: string;
  }>(
    `SELECT a.ordinal::text AS ordinal, to_char(coalesce(a.occurred_at, a.recorded_at) AT TIME ZONE 'UTC', ${ISO_UTC}) AS occurred_at,
            a.actor_name, a.actor_id, a.actor_role, a.type, a.organization_id, a.plan_id, a.credential_id, ${auditData('a', logInDatabase)} AS data,
            a.correlation_id, a.hash
       FROM audit_log a WHERE ${where} ORDER BY a.ordinal LIMIT $${params.length}`,
    params,
  );
  return {
    last: rows.at(-1)?.ordinal ?? null,
    rows: rows.map((row) => ({
      occurredAt: row.occurred_at,
      actorName: row.actor_name,
      actorId: row.actor_id,
      actorRole: row.actor_role,
      type: row.type,
      organizationId: row.organization_id,
      planId: row.plan_id,
      credentialId: row.credential_id,
      data: redact(asJson<JsonValue>(row.data)),
      correlationId: row.correlation_id,
      hash: row.hash,
    })),
  };
}
