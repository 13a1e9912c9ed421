import { randomUUID } from 'node:crypto';
import { DuplicateEventIdError, InvalidArgumentError } from '../../src/eventstore/errors';
import { parsePosition } from '../../src/eventstore/postgres/position';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { AppendResult } from '../../src/eventstore/types';
import { verifyLog } from '../../src/eventstore/verify';
import type { PgDatabase } from '../../src/sql/pg-database';
import { describeWithPostgres, dropTestSchemas, openPostgres, testDatabases } from '../support/databases';
import { eventually } from '../support/eventually';
import { readable } from '../support/readable';

afterAll(dropTestSchemas);

const txOf = (result: AppendResult) => parsePosition(result.position).tx;

/**
 * appendToStream calls made while others are under way wait, and go to the database together,
 * in one transaction (group commit). The port's contract suite checks that each still meets its
 * own outcome; these tests check that the grouping happens, and what happens when a group fails.
 */
for (const database of testDatabases) {
  describe(`group commit on ${database.name}`, () => {
    /** A store that keeps one append call at the database at a time, so that the next ones group. */
    async function withStore(use: (store: SqlEventStore) => Promise<void>): Promise<void> {
      const db = await database.open();
      try {
        await use(await SqlEventStore.open(db, { appendsInFlight: 1 }));
      } finally {
        await db.close();
      }
    }

    it('sends appends made while one is under way together, in one transaction, each in its own stream order', () =>
      withStore(async (store) => {
        const streams = Array.from({ length: 4 }, () => `grouped-${randomUUID()}`);
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.appendToStream(streams[i % 4], [{ type: 'Grouped', data: { i } }])),
        );

        // The first went alone; the nine made while it was under way went as one group.
        expect(new Set(results.slice(1).map(txOf)).size).toBe(1);
        expect(txOf(results[0])).not.toBe(txOf(results[1]));
        for (const [s, stream] of streams.entries()) {
          const sent = results.filter((_, i) => i % 4 === s).map((r) => r.nextExpectedRevision);
          expect(sent).toEqual(sent.map((_, k) => BigInt(k)));
          expect((await store.readStream(stream)).map((e) => (e.data as { i: number }).i)).toEqual(
            Array.from({ length: 10 }, (_, i) => i).filter((i) => i % 4 === s),
          );
        }
        await readable(store, results[9].position);
        expect((await verifyLog(store, { heads: await store.streamHeads() })).problem).toBeNull();
      }));

    it('runs the appends of a group in the order they came, whatever their streams are called', () =>
      withStore(async (store) => {
        // New streams whose names sort the other way round from the order of the appends.
        const [later, earlier] = [`grouped-b-${randomUUID()}`, `grouped-a-${randomUUID()}`];
        const shared = randomUUID();
        const [alone, kept, refused] = await Promise.allSettled([
          store.appendToStream(`grouped-${randomUUID()}`, [{ type: 'Alone', data: {} }]),
          store.appendToStream(later, [{ id: shared, type: 'Shared', data: {} }], { expectedRevision: 'no_stream' }),
          store.appendToStream(earlier, [{ id: shared, type: 'Shared', data: {} }], { expectedRevision: 'no_stream' }),
        ]);

        expect(kept.status).toBe('fulfilled');
        expect(refused.status === 'rejected' && refused.reason).toBeInstanceOf(DuplicateEventIdError);
        // Refused without an error undoing the group: the one kept went in the group's transaction.
        const txOfSettled = (r: PromiseSettledResult<AppendResult>) => txOf((r as PromiseFulfilledResult<AppendResult>).value);
        expect(txOfSettled(kept)).not.toBe(txOfSettled(alone));
        expect(await store.readStream(earlier)).toEqual([]);
      }));

    it('runs the appends of a group undone by an error one by one, each with its own outcome', () =>
      withStore(async (store) => {
        // Two existing streams whose names sort the other way round from the order of the appends.
        const [later, earlier] = [`grouped-b-${randomUUID()}`, `grouped-a-${randomUUID()}`];
        await store.appendToStream(later, [{ type: 'Created', data: {} }]);
        await store.appendToStream(earlier, [{ type: 'Created', data: {} }]);
        const shared = randomUUID();

        const [, kept, refused] = await Promise.allSettled([
          store.appendToStream(`grouped-${randomUUID()}`, [{ type: 'Alone', data: {} }]),
          store.appendToStream(later, [{ id: shared, type: 'Shared', data: {} }]),
          store.appendToStream(earlier, [{ id: shared, type: 'Shared', data: {} }]),
        ]);

        // The one that came first keeps the id; the group's failure did not take it down.
        expect(kept.status).toBe('fulfilled');
        expect(refused.status === 'rejected' && refused.reason).toBeInstanceOf(DuplicateEventIdError);
        expect((await store.readStream(later)).map((e) => e.type)).toEqual(['Created', 'Shared']);
        expect((await store.readStream(earlier)).map((e) => e.type)).toEqual(['Created']);
      }));

    it('refuses a group size that would send nothing', async () => {
      const db = await database.open();
      try {
        await expect(SqlEventStore.open(db, { appendsInFlight: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
      } finally {
        await db.close();
      }
    });
  });
}

describeWithPostgres('group commit beside callers\' transactions (PostgreSQL server)', () => {
  let db: PgDatabase;
  let store: SqlEventStore;
  beforeAll(async () => {
    db = await openPostgres(undefined, 6);
    store = await SqlEventStore.open(db, { appendsInFlight: 1 });
  });
  afterAll(() => db?.close());

  it('sends a group with a busy stream one append at a time: the group neither waits nor holds others back', async () => {
    const prefix = `busy-${randomUUID().slice(0, 8)}`;
    const [first, second, third] = [`${prefix}-0`, `${prefix}-1`, `${prefix}-2`];
    let sending!: Promise<AppendResult[]>;

    await db.transaction(async (caller) => {
      // A caller's transaction holds the third stream: the group that wants it cannot have it.
      await store.appendWithin(caller, third, [{ type: 'Caller', data: {} }]);
      // The first goes alone; the next two wait for it, and then go as one group.
      sending = Promise.all([
        store.appendToStream(first, [{ type: 'Sent', data: { n: 0 } }]),
        store.appendToStream(second, [{ type: 'Sent', data: { n: 1 } }]),
        store.appendToStream(third, [{ type: 'Sent', data: { n: 2 } }]),
      ]);
      // The group wrote nothing and let go; its appends went alone, and the third waits for this transaction.
      await eventually(async () => {
        const [row] = await caller.query<{ waiting: number }>(
          `SELECT count(*)::int AS waiting FROM pg_locks
            WHERE locktype = 'advisory' AND NOT granted
              AND objid = ((hashtext(current_schema() || ':' || $1)::bigint + 4294967296) % 4294967296)::text::oid`,
          [third],
        );
        if (row.waiting !== 1) throw new Error('the third append is not waiting yet');
      });
      // The second append is already recorded, while this transaction is still open: a group that
      // held the second stream's lock while it waited for the third would still hold it back
      // (and a caller that wanted the second stream now would deadlock with it).
      expect((await store.readStream(second)).map((e) => e.type)).toEqual(['Sent']);
    });
    const results = await sending;

    expect(new Set(results.map(txOf)).size).toBe(3);
    expect((await store.readStream(third)).map((e) => [e.revision, e.type])).toEqual([
      [0n, 'Caller'],
      [1n, 'Sent'],
    ]);
    await readable(store, results[2].position);
    const inLogOrder = (await store.readAll({ filter: { streamPrefixes: [third] } })).map((e) => e.type);
    expect(inLogOrder).toEqual(['Caller', 'Sent']);
  });
});
