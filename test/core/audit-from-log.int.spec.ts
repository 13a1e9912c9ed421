import { randomUUID } from 'node:crypto';
import { auditLogProjection } from '../../projections/audit-log';
import { ProjectionRunner } from '../../src/core/projection-runner';
import { REDACTED } from '../../src/core/redact';
import { rebuildProjection } from '../../src/core/rebuild';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { EventData, JsonObject, JsonValue, RecordedEvent } from '../../src/eventstore/types';
import type { SqlDatabase } from '../../src/sql/database';
import type { SqlStatement } from '../../src/core/projection';
import { dropTestSchemas, testDatabases } from '../support/databases';
import { readable } from '../support/readable';
import { auditData } from '../../src/queries/audit';
import { type Append, appendLog, productLog } from './product-log';

afterAll(dropTestSchemas);

const tenantId = randomUUID();
const at = '2026-02-03T04:05:06.789Z';

/** Events whose metadata or data the product never writes, but a log may hold: each row must still come out as rowOf() makes it. */
function oddLog(): Append[] {
  const odd = (type: string, data: JsonValue, metadata: JsonObject): Append => ({
    stream: `odd-${randomUUID()}`,
    events: [{ type, data, metadata } as EventData],
  });
  const user = { kind: 'user', id: 'u-odd', name: 'Odd "one" \\ Zoë', role: 'OWNER' };
  return [
    odd('NoActor', { organizationId: 'o-1' }, { tenantId, occurredAt: at }),
    odd('NumberTenant', { planId: 'p-1' }, { tenantId: 42, actor: ['user'], occurredAt: 'not a time', correlationId: { id: 'c' } }),
    odd('OddActor', { credentialId: 'c-1', planId: 5 }, { tenantId, actor: { kind: 'user', id: 7, name: null, role: 'OWNER' }, occurredAt: 12345 }),
    odd(
      'NestedSecret',
      { organizationId: 'o-2', items: [{ name: 'a', token: 's3cret' }, { inner: [{ clientSecret: 'x', secretId: 's-1' }] }] },
      { tenantId, actor: user, occurredAt: at },
    ),
    odd('ArrayData', [1, 'two', { password: 'p' }], { tenantId, actor: user, occurredAt: at }),
    odd('TextData', 'just text', { tenantId, actor: user, occurredAt: at, causationId: 'cause' }),
    odd('NumberData', 17.25, { tenantId, actor: user }),
    odd('NullData', null, { tenantId, actor: 'user', occurredAt: '2026-03-01' }),
    odd('BooleanData', true, { actor: user, occurredAt: '2026-03-01 10:00:00+02' }),
    // Times Node reads and PostgreSQL refuses.
    odd('NoSuchDay', { n: 1 }, { tenantId, actor: user, occurredAt: '2026-02-30T00:00:00Z' }),
    odd('DateString', { n: 2 }, { tenantId, actor: user, occurredAt: 'Sun Mar 01 2026 10:00:00 GMT+0000 (Coordinated Universal Time)' }),
    odd('YearZero', { n: 3 }, { tenantId, actor: user, occurredAt: '0000-01-01T00:00:00Z' }),
    // A key JSON.parse keeps as an own key, which an assignment would take for the prototype.
    odd('ProtoKey', JSON.parse('{"b":2,"__proto__":{"x":1}}'), { tenantId, actor: user, occurredAt: at }),
    odd('SecretIds', { passwordId: 'p-1', tokenId: 't-1', organizationId: 'o-3', note: 'tab\tand\nnewline \u00e9' }, { tenantId, actor: user, occurredAt: at }),
  ];
}

/** The audit history built through Node (applyAll) or from the events table (applyFromLog). */
function runner(store: SqlEventStore, db: SqlDatabase, logInDatabase: boolean, maxBatch: number, warnings: string[]): ProjectionRunner {
  const logger = { info: () => undefined, error: () => undefined, warn: (message: string) => warnings.push(message) };
  return new ProjectionRunner({ store, db, projection: auditLogProjection, maxBatch, logInDatabase, logger });
}

/** Each row of the history as its readers see it: its data the row's copy, or else the event's. */
const SHOWN = `SELECT (to_jsonb(a) || jsonb_build_object('data', ${auditData('a', true)}))`;

/** The rows of the history, as their readers see them, in ordinal order. */
async function historyShown(db: SqlDatabase): Promise<string[]> {
  return (await db.query<{ row: string }>(`${SHOWN}::text AS row FROM audit_log a ORDER BY ordinal`)).map((row) => row.row);
}

/** The types of the events whose rows keep a copy of the data. */
async function copiesKept(db: SqlDatabase): Promise<string[]> {
  return (await db.query<{ type: string }>('SELECT type FROM audit_log WHERE data IS NOT NULL ORDER BY ordinal')).map((row) => row.type);
}

/** Runs statements in a transaction of their own and gives back the rows they wrote (every column but the ordinal), in ordinal order; then undoes them. */
async function rowsWritten(db: SqlDatabase, statements: readonly SqlStatement[]): Promise<Record<string, unknown>[]> {
  let rows: Record<string, unknown>[] = [];
  await db
    .transaction(async (tx) => {
      await tx.query('TRUNCATE audit_log');
      for (const statement of statements) await tx.query(statement.sql, statement.params);
      rows = (await tx.query<{ row: Record<string, unknown> }>(`${SHOWN} - 'ordinal' AS row FROM audit_log a ORDER BY ordinal`)).map((written) => written.row);
      throw new Error('undone');
    })
    .catch((error: unknown) => {
      if ((error as Error).message !== 'undone') throw error;
    });
  return rows;
}

/** The event ids the batch's statements from the events table write, in ordinal order. */
async function idsWritten(db: SqlDatabase, events: readonly RecordedEvent[]): Promise<string[]> {
  return (await rowsWritten(db, auditLogProjection.applyFromLog!(events))).map((row) => row.event_id as string);
}

for (const database of testDatabases) {
  describe(`the audit history built from the events table on ${database.name}`, () => {
    let db: SqlDatabase;
    let store: SqlEventStore;
    let events: RecordedEvent[];
    beforeAll(async () => {
      db = await database.open();
      store = await SqlEventStore.open(db);
      const appends = productLog(43, 60);
      // The odd events among the product's, so that batches mix them.
      appends.splice(5, 0, ...oddLog().slice(0, 5));
      appends.push(...oddLog().slice(5));
      await readable(store, await appendLog(store, appends));
      events = await store.readAll({ maxCount: 100_000 });
    }, 180_000);
    afterAll(async () => {
      await db.close();
    });

    for (const maxBatch of [2000, 7]) {
      it(`gives every row, as its readers see it, as the rows made in Node do, in the same order, in batches of up to ${maxBatch} events, and keeps a copy of the data only where it must`, async () => {
        const warnings: string[] = [];
        expect((await rebuildProjection(runner(store, db, false, maxBatch, warnings), store)).done).toBe(true);
        const throughNode = await historyShown(db);
        // Made in Node, every row keeps its copy of the data.
        expect(await copiesKept(db)).toHaveLength(events.length);
        expect((await rebuildProjection(runner(store, db, true, maxBatch, warnings), store)).done).toBe(true);
        const fromLog = await historyShown(db);
        // No batch fell back to event by event: the rows compared are those the statement from the log wrote.
        expect(warnings).toEqual([]);
        expect(fromLog).toHaveLength(events.length);
        expect(fromLog).toEqual(throughNode);
        // Made from the events table, only the rows made in Node keep a copy: those with something to
        // redact, and those whose metadata SQL does not read as Node does (no object, a time not in
        // the ISO form).
        expect(await copiesKept(db)).toEqual(['NumberTenant', 'NestedSecret', 'ArrayData', 'NullData', 'BooleanData', 'NoSuchDay', 'DateString', 'YearZero']);

        // The ordinals follow the log.
        const rows = await db.query<{ position: string }>('SELECT position FROM audit_log ORDER BY ordinal');
        expect(rows.map((row) => row.position)).toEqual(events.map((event) => event.position));
        // And the odd rows are those rowOf() makes.
        const row = async (type: string) =>
          (
            await db.query<Record<string, unknown>>(
              `SELECT tenant_id, actor_kind, actor_id, actor_name, ${auditData('a', true)} AS data, organization_id, plan_id, credential_id, correlation_id, causation_id,
                      to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS occurred_at
                 FROM audit_log a WHERE type = $1`,
              [type],
            )
          )[0];
        expect(await row('NoActor')).toMatchObject({ tenant_id: tenantId, actor_kind: null, organization_id: 'o-1', occurred_at: at.slice(0, -1) });
        expect(await row('NumberTenant')).toMatchObject({ tenant_id: null, actor_kind: null, plan_id: 'p-1', correlation_id: null, occurred_at: null });
        expect(await row('OddActor')).toMatchObject({
          actor_kind: 'user',
          actor_id: null,
          actor_name: null,
          credential_id: 'c-1',
          plan_id: null,
          occurred_at: null,
        });
        expect(await row('NestedSecret')).toMatchObject({
          organization_id: 'o-2',
          data: { organizationId: 'o-2', items: [{ name: 'a', token: REDACTED }, { inner: [{ clientSecret: REDACTED, secretId: 's-1' }] }] },
        });
        expect(await row('ArrayData')).toMatchObject({ data: [1, 'two', { password: REDACTED }], organization_id: null });
        expect(await row('TextData')).toMatchObject({ data: 'just text', causation_id: 'cause' });
        expect(await row('NullData')).toMatchObject({ data: null, actor_kind: null, occurred_at: '2026-03-01T00:00:00.000' });
        expect(await row('BooleanData')).toMatchObject({ tenant_id: null, data: true, occurred_at: '2026-03-01T08:00:00.000' });
        expect(await row('NoSuchDay')).toMatchObject({ occurred_at: '2026-03-02T00:00:00.000' });
        expect(await row('DateString')).toMatchObject({ occurred_at: '2026-03-01T10:00:00.000' });
        expect(await row('YearZero')).toMatchObject({ occurred_at: null });
        expect(await row('SecretIds')).toMatchObject({ data: { passwordId: 'p-1', tokenId: 't-1', organizationId: 'o-3', note: 'tab\tand\nnewline é' } });
      }, 180_000);
    }

    it('makes, batch by batch, the very rows the batched form made in Node makes', async () => {
      for (let from = 0; from < events.length; from += 500) {
        const batch = events.slice(from, from + 500);
        expect(await rowsWritten(db, auditLogProjection.applyFromLog!(batch))).toEqual(await rowsWritten(db, auditLogProjection.applyAll!(batch)));
      }
      // Among them, a key `__proto__` kept as a key both ways.
      const proto = events.find((event) => event.type === 'ProtoKey')!;
      const [row] = await rowsWritten(db, auditLogProjection.applyFromLog!([proto]));
      expect(Object.entries(row.data as object)).toEqual([
        ['b', 2],
        ['__proto__', { x: 1 }],
      ]);
    }, 120_000);

    it('fails a batch whose events the table does not hold, rather than pass them without rows', async () => {
      const [first, second] = events.slice(100, 102);
      const missing = { ...second, id: randomUUID() };
      await expect(rowsWritten(db, auditLogProjection.applyFromLog!([first, missing]))).rejects.toThrow(/the batch wrote 1 rows of 2/);
    });

    it("writes exactly the batch's events, those of its positions, whatever else the range they span holds", async () => {
      // With rows made in Node among them (the odd events come early in the log) and without.
      for (const range of [events.slice(3, 30), events.slice(100, 140)]) {
        const batch = range.filter((_, n) => n % 4 !== 1);
        expect(await idsWritten(db, batch)).toEqual(batch.map((event) => event.id));
      }
      expect(
        events
          .slice(3, 30)
          .filter((_, n) => n % 4 !== 1)
          .some((event) => event.type === 'NestedSecret' || event.type === 'ArrayData'),
      ).toBe(true);
      expect(events.slice(100, 140).every((event) => event.type !== 'ArrayData' && !event.stream.startsWith('odd-'))).toBe(true);
      // Past the batch's last position, nothing: what was appended after it is the next batch's.
      const tail = events.slice(-3);
      expect(await idsWritten(db, tail.slice(0, 2))).toEqual(tail.slice(0, 2).map((event) => event.id));
    });
  });
}
