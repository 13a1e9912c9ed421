import { randomUUID } from 'node:crypto';
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
    it('sends appends made while one is under way together, in one transaction, each in its own stream order', async () => {
      const db = await database.open();
      try {
        const store = await SqlEventStore.open(db, { appendsInFlight: 1 });
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
      } finally {
        await db.close();
      }
    });
  });
}

describeWithPostgres('group commit when a group fails (PostgreSQL server)', () => {
  let db: PgDatabase;
  let store: SqlEventStore;
  beforeAll(async () => {
    db = await openPostgres(undefined, 6);
    store = await SqlEventStore.open(db, { appendsInFlight: 1 });
  });
  afterAll(() => db?.close());

  /** The advisory lock an append takes on a stream, taken here as a session lock to hold appends back. */
  const streamLock = (verb: 'lock' | 'unlock') =>
    `SELECT pg_advisory_${verb}(hashtext('backplane-stream'), hashtext(current_schema() || ':' || $1))`;

  it('undoes the whole group, then runs each append alone, in order, so none is lost or out of stream order', async () => {
    const prefix = `fallback-${randomUUID().slice(0, 8)}`;
    const [first, second, third] = [`${prefix}-0`, `${prefix}-1`, `${prefix}-2`];
    let sending!: Promise<AppendResult[]>;

    await db.transaction(async (holder) => {
      await holder.query(streamLock('lock'), [first]);
      await holder.query(streamLock('lock'), [third]);
      // The first append waits on its stream; the next two wait for it, and will go as one group.
      sending = Promise.all([
        store.appendToStream(first, [{ type: 'Sent', data: { n: 0 } }]),
        store.appendToStream(second, [{ type: 'Sent', data: { n: 1 } }]),
        store.appendToStream(third, [{ type: 'Sent', data: { n: 2 } }]),
      ]);
      await holder.query(streamLock('unlock'), [first]);
      // The group has written its first append, so it has its transaction id, and waits on the third stream.
      await eventually(async () => {
        const [row] = await holder.query<{ waiting: number }>(
          `SELECT count(*)::int AS waiting FROM pg_locks
            WHERE locktype = 'advisory' AND NOT granted
              AND objid = ((hashtext(current_schema() || ':' || $1)::bigint + 4294967296) % 4294967296)::text::oid`,
          [third],
        );
        if (row.waiting !== 1) throw new Error('the group is not waiting yet');
      });
      // A younger transaction writes the third stream first: the group may no longer write it.
      await store.appendWithin(holder, third, [{ type: 'Younger', data: {} }]);
      await holder.query(streamLock('unlock'), [third]);
    });
    // The commit lets the group go on; it finds the third stream written by a younger transaction.
    const results = await sending;

    // Each of the group's appends then ran alone, in a transaction of its own.
    expect(new Set(results.map(txOf)).size).toBe(3);
    expect((await store.readStream(second)).map((e) => e.type)).toEqual(['Sent']);
    expect((await store.readStream(third)).map((e) => [e.revision, e.type])).toEqual([
      [0n, 'Younger'],
      [1n, 'Sent'],
    ]);
    await readable(store, results[2].position);
    const inLogOrder = (await store.readAll({ filter: { streamPrefixes: [third] } })).map((e) => e.type);
    expect(inLogOrder).toEqual(['Younger', 'Sent']);
  });
});
