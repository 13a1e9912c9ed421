import type { Projection } from '../src/core/projection';
import { hidesSecret, redact } from '../src/core/redact';
import { parsePosition } from '../src/eventstore/postgres/position';
import type { JsonObject, JsonValue, RecordedEvent } from '../src/eventstore/types';
import { isObject, isoTime, text } from './event-context';

/**
 * Who did what, when, on which stream: one row per event, from the metadata the command handler
 * sets, with the event's data as people may see it (secrets redacted) and the organization,
 * plan and credential it concerns, for filtering. Where the row is made from the events table of
 * the same database and nothing in the data is redacted, the row keeps no copy of it (`data` is
 * null) and readers take the event's own (src/queries/audit.ts `auditData`).
 */
export const auditLogProjection: Projection = {
  name: 'audit-log',
  version: 7,
  history: true,
  // A rebuild writes a few KB of WAL an event (the row and its index entries), whose flush each
  // batch would otherwise wait for before the next begins.
  unflushedBatches: true,
  tables: ['audit_log'],
  schema: [
    `CREATE TABLE audit_log (
       ordinal bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       event_id uuid NOT NULL,
       position text NOT NULL,
       tenant_id text,
       actor_kind text,
       actor_id text,
       actor_name text,
       actor_role text,
       stream text NOT NULL,
       revision bigint NOT NULL,
       type text NOT NULL,
       -- Null where the event's data in the events table of this database is what people may see:
       -- a copy was over half of each row, which a rebuild wrote and each index build read twice.
       data jsonb,
       organization_id text,
       plan_id text,
       credential_id text,
       hash text NOT NULL,
       correlation_id text,
       causation_id text,
       occurred_at timestamptz,
       recorded_at timestamptz NOT NULL)`,
    // An event's row once: its position is its own. Rows come in log order and positions rise with
    // it (as text too, while their numbers keep their digits), so each entry goes at the index's
    // end, where one of the event ids (random UUIDs) took each to a page anywhere in it: about a
    // tenth of a rebuild's time at a million events.
    'CREATE UNIQUE INDEX audit_log_position ON audit_log (position)',
    // Each of the ids below tells the tenant: without knowing it, the planner takes a page of an
    // organization's history for a few rows of it, and reads and sorts all of them.
    'CREATE STATISTICS audit_log_owners (dependencies) ON tenant_id, organization_id, plan_id, credential_id FROM audit_log',
  ],
  // Built once a rebuild has reached the log's end: kept up row by row, they made nine index entries
  // a row, about half of a rebuild's time at a million events, most of it in the pages of the
  // indexes whose keys are random ids, which no longer fit in the database's buffers.
  laterIndexes: [
    // Pages of one tenant's history in log order, and the cursor a page starts after. Every filter's
    // index ends with the ordinal, so a page of a filter is read in order and stops at its size.
    'CREATE INDEX audit_log_tenant_ordinal ON audit_log (tenant_id, ordinal)',
    // A time range starts at the smallest ordinal inside it, found in this index alone.
    'CREATE INDEX audit_log_tenant_time ON audit_log (tenant_id, occurred_at, ordinal)',
    // Backplane's own actor ('backplane') acts in every tenant: its rows are told apart by the tenant.
    'CREATE INDEX audit_log_tenant_actor ON audit_log (tenant_id, actor_id, ordinal)',
    // Organizations, plans and credentials have ids Backplane draws (random UUIDs), each of one
    // tenant: their indexes leave the tenant out (the page's condition on it is checked on the
    // row it reads anyway) and the rows without one, a fifth narrower.
    'CREATE INDEX audit_log_organization ON audit_log (organization_id, ordinal) WHERE organization_id IS NOT NULL',
    'CREATE INDEX audit_log_plan ON audit_log (plan_id, ordinal) WHERE plan_id IS NOT NULL',
    'CREATE INDEX audit_log_credential ON audit_log (credential_id, ordinal) WHERE credential_id IS NOT NULL',
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
              SELECT ${columnsOf('row').join(', ')}
                FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS batch(row, place) ORDER BY place`,
        params: [JSON.stringify(events.map(rowOf))],
      },
    ];
  },
  applyFromLog(events) {
    if (events.length === 0) return [];
    // The batch's events are those of its own positions, in the range they span (an index range
    // scan in log order), whatever was appended since. The rare rows SQL cannot make as rowOf()
    // does come made here, by event id, and take their place in the same order. The limit, which
    // the ids keep anyway, tells the planner how few rows the range holds: a range it guessed at
    // tens of thousands of rows (as in a log written in large transactions) made the statement
    // costly enough to be compiled (JIT) at every batch, which took longer than the batch.
    const first = parsePosition(events[0].position);
    const last = parsePosition(events[events.length - 1].position);
    const params: unknown[] = [
      first.tx.toString(),
      first.seq.toString(),
      last.tx.toString(),
      last.seq.toString(),
      events.map((event) => event.id),
      events.length,
    ];
    const inNode = events.filter((event) => !madeInDatabase(event));
    // Without such rows, which is the rule, the plain columns: choosing each column's source at
    // every row took a tenth of the statement's time.
    let columns = FROM_LOG;
    let made = '';
    if (inNode.length > 0) {
      const fromMade = columnsOf('made.row');
      columns = FROM_LOG.map((column, n) => `CASE WHEN made.row IS NULL THEN ${column} ELSE ${fromMade[n]} END`);
      made = 'CROSS JOIN LATERAL (SELECT $7::jsonb -> e.id::text AS row) made';
      params.push(JSON.stringify(Object.fromEntries(inNode.map((event) => [event.id, rowOf(event)]))));
    }
    // A row short (a log that is not this database's events table) fails the statement, rather
    // than the checkpoint pass events without rows: the batch then goes event by event, in Node.
    return [
      {
        sql: `WITH written AS (
                INSERT INTO audit_log (${COLUMNS})
                SELECT ${columns.join(', ')}
                  FROM events e ${made}
                 WHERE (e.tx_id, e.seq) >= ($1::xid8, $2::bigint) AND (e.tx_id, e.seq) <= ($3::xid8, $4::bigint) AND e.id::text = ANY ($5::text[])
                 ORDER BY e.tx_id, e.seq LIMIT $6::bigint
                RETURNING 1)
              SELECT CASE WHEN count(*) = $6::bigint THEN 0 ELSE ('the batch wrote ' || count(*) || ' rows of ' || $6::bigint)::int END AS short FROM written`,
        params,
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

/** The columns of a row made by rowOf(), given as a JSON array. */
function columnsOf(row: string): string[] {
  return COLUMN_TYPES.map((type, n) => (n === DATA ? `${row} -> ${n}` : `(${row} ->> ${n})::${type}`));
}

/** A JSON string's text, and nothing for any other JSON value, as text() keeps it. */
const textOf = (value: string) => `CASE WHEN jsonb_typeof(${value}) = 'string' THEN ${value} #>> '{}' END`;

/**
 * The row's columns as SQL makes them from the events table, as rowOf() does from the event, but
 * for the data, which stays in the events table alone: a
 * field of an object that is not one is null, as it is for a JSON array or scalar in SQL. Times
 * keep milliseconds, as the Date read does; occurredAt is cast as rowOf()'s text is (a text Node
 * cannot parse is made in Node).
 */
const FROM_LOG = [
  'e.id',
  "e.tx_id::text || '-' || e.seq::text",
  textOf("e.metadata -> 'tenantId'"),
  textOf("e.metadata -> 'actor' -> 'kind'"),
  textOf("e.metadata -> 'actor' -> 'id'"),
  textOf("e.metadata -> 'actor' -> 'name'"),
  textOf("e.metadata -> 'actor' -> 'role'"),
  'e.stream',
  'e.revision',
  'e.type',
  // No copy: readers take the event's data from the events table (auditData()).
  'NULL::jsonb',
  textOf("e.data -> 'organizationId'"),
  textOf("e.data -> 'planId'"),
  textOf("e.data -> 'credentialId'"),
  'e.hash',
  textOf("e.metadata -> 'correlationId'"),
  textOf("e.metadata -> 'causationId'"),
  `(${textOf("e.metadata -> 'occurredAt'")})::timestamptz`,
  "date_trunc('milliseconds', e.recorded_at)",
];

/**
 * Whether SQL makes the event's row as rowOf() does: unless its data has a secret to redact, its
 * metadata is no object, or its occurredAt is a text Node cannot parse as a time (rowOf() keeps
 * none, where a cast might read one or fail).
 */
function madeInDatabase(event: RecordedEvent): boolean {
  const metadata = event.metadata as JsonValue;
  if (!isObject(metadata)) return false;
  // A time not already in the ISO form rowOf() gives it is made in Node, as rowOf() reads it.
  if (typeof metadata.occurredAt === 'string' && isoTime(metadata.occurredAt) !== metadata.occurredAt) return false;
  return !hidesSecret(event.data);
}

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
