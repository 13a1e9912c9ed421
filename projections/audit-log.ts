import type { Projection } from '../src/core/projection';
import { redact } from '../src/core/redact';
import type { JsonObject, JsonValue, RecordedEvent } from '../src/eventstore/types';
import { isObject, isoTime, text } from './event-context';

/**
 * Who did what, when, on which stream: one row per event, from the metadata the command handler
 * sets, with the event's data as people may see it (secrets redacted) and the organization,
 * plan and credential it concerns, for filtering.
 */
export const auditLogProjection: Projection = {
  name: 'audit-log',
  version: 4,
  history: true,
  tables: ['audit_log'],
  schema: [
    `CREATE TABLE audit_log (
       ordinal bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       event_id uuid NOT NULL UNIQUE,
       position text NOT NULL,
       tenant_id text,
       actor_kind text,
       actor_id text,
       actor_name text,
       actor_role text,
       stream text NOT NULL,
       revision bigint NOT NULL,
       type text NOT NULL,
       data jsonb NOT NULL,
       organization_id text,
       plan_id text,
       credential_id text,
       hash text NOT NULL,
       correlation_id text,
       causation_id text,
       occurred_at timestamptz,
       recorded_at timestamptz NOT NULL)`,
    // Kept up row by row, also during a rebuild: built at the end, they held a transaction open
    // for as long as they took (no reader of the log sees past it meanwhile) and the runner's
    // checkpoint, which every mutation waits on, while queries scanned the whole table.
    // Pages of one tenant's history in log order, and the cursor a page starts after. Every filter's
    // index ends with the ordinal, so a page of a filter is read in order and stops at its size.
    'CREATE INDEX audit_log_tenant_ordinal ON audit_log (tenant_id, ordinal)',
    'CREATE INDEX audit_log_position ON audit_log (position)',
    // A time range starts at the smallest ordinal inside it, found in this index alone.
    'CREATE INDEX audit_log_tenant_time ON audit_log (tenant_id, occurred_at, ordinal)',
    'CREATE INDEX audit_log_tenant_actor ON audit_log (tenant_id, actor_id, ordinal)',
    'CREATE INDEX audit_log_tenant_organization ON audit_log (tenant_id, organization_id, ordinal)',
    'CREATE INDEX audit_log_tenant_plan ON audit_log (tenant_id, plan_id, ordinal)',
    'CREATE INDEX audit_log_tenant_credential ON audit_log (tenant_id, credential_id, ordinal)',
    'CREATE INDEX audit_log_tenant_type ON audit_log (tenant_id, type, ordinal)',
  ],
  apply(event) {
    const row = rowOf(event);
    row[DATA] = JSON.stringify(row[DATA]);
    return [{ sql: `INSERT INTO audit_log (${COLUMNS}) VALUES (${COLUMN_TYPES.map((_, n) => `$${n + 1}`).join(', ')})`, params: row }];
  },
  applyAll(events) {
    if (events.length === 0) return [];
    // One statement for the batch, in the log's order: a rebuild writes thousands of rows a
    // second, which one INSERT per event cannot. The rows go as one JSON document, made and
    // read at native speed, where arrays of text took Node longer to escape than the database
    // to insert.
    return [
      {
        sql: `INSERT INTO audit_log (${COLUMNS})
              SELECT ${COLUMN_TYPES.map((type, n) => (n === DATA ? `row -> ${n}` : `(row ->> ${n})::${type}`)).join(', ')}
                FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS batch(row, place) ORDER BY place`,
        params: [JSON.stringify(events.map(rowOf))],
      },
    ];
  },
};

/** The row's columns, and their types in the same order. */
const COLUMNS = `event_id, position, tenant_id, actor_kind, actor_id, actor_name, actor_role, stream, revision, type,
                 data, organization_id, plan_id, credential_id, hash, correlation_id, causation_id, occurred_at, recorded_at`;
const COLUMN_TYPES = 'uuid text text text text text text text bigint text jsonb text text text text text text timestamptz timestamptz'.split(' ');
/** Where the event's data is among them: the one column that is JSON itself. */
const DATA = 10;

/** The row's values; the data as people may see it, as JSON. */
function rowOf(event: RecordedEvent): JsonValue[] {
  const metadata = event.metadata;
  const actor = (isObject(metadata.actor) ? metadata.actor : {}) as JsonObject;
  const data = (isObject(event.data) ? event.data : {}) as JsonObject;
  return [
    event.id,
    event.position,
    text(metadata.tenantId),
    text(actor.kind),
    text(actor.id),
    text(actor.name),
    text(actor.role),
    event.stream,
    event.revision.toString(),
    event.type,
    redact(event.data),
    text(data.organizationId),
    text(data.planId),
    text(data.credentialId),
    event.hash,
    text(metadata.correlationId),
    text(metadata.causationId),
    isoTime(metadata.occurredAt),
    event.recordedAt.toISOString(),
  ];
}
