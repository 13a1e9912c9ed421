import type { Projection } from '../src/core/projection';
import type { JsonObject } from '../src/eventstore/types';

/**
 * Who did what, when, on which stream: one row per event, from the metadata the command handler
 * sets. The event's data stays in the log; a row points to it by event id.
 */
export const auditLogProjection: Projection = {
  name: 'audit-log',
  version: 1,
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
       stream text NOT NULL,
       revision bigint NOT NULL,
       type text NOT NULL,
       correlation_id text,
       causation_id text,
       occurred_at timestamptz,
       recorded_at timestamptz NOT NULL)`,
    'CREATE INDEX audit_log_tenant_time ON audit_log (tenant_id, occurred_at)',
    'CREATE INDEX audit_log_tenant_stream ON audit_log (tenant_id, stream, revision)',
    'CREATE INDEX audit_log_tenant_actor ON audit_log (tenant_id, actor_id, occurred_at)',
  ],
  apply(event) {
    const metadata = event.metadata;
    const actor = (isObject(metadata.actor) ? metadata.actor : {}) as JsonObject;
    return [
      {
        sql: `INSERT INTO audit_log (event_id, position, tenant_id, actor_kind, actor_id, actor_name, stream, revision, type,
                                     correlation_id, causation_id, occurred_at, recorded_at)
              VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        params: [
          event.id,
          event.position,
          text(metadata.tenantId),
          text(actor.kind),
          text(actor.id),
          text(actor.name),
          event.stream,
          event.revision.toString(),
          event.type,
          text(metadata.correlationId),
          text(metadata.causationId),
          isoTime(metadata.occurredAt),
          event.recordedAt.toISOString(),
        ],
      },
    ];
  },
};

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function isoTime(value: unknown): string | null {
  return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? value : null;
}
