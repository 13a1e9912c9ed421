import { randomUUID } from 'node:crypto';
import { DuplicateEventIdError, InvalidArgumentError } from '../../src/eventstore/errors';
import { parsePosition } from '../../src/eventstore/postgres/position';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { AppendResult } from '../../src/eventstore/types';
import { verifyLog } from '../../src/eventstore/verify';
import type { SqlDatabase, SqlExecutor } from '../../src/sql/database';
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
    async function withStore(use: (store: SqlEventStore, db: SqlDatabase) => Promise<void>): Promise<void> {
      const db = await database.open();
      try {
        await use(await SqlEventStore.open(db, { appendsInFlight: 1 }), db);
      } finally {
        await db.close();
      }
    }

    it('sends appends made while one is under way together, in one transaction, each in its own stream order', () =>
      withStore(async (store) => {
        const streams = Array.from({ length: 4 }, () => `grouped-${randomUUID()}`);
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.appendToStream(streams[i % 4], [{ type: 'Grouped', data: { i } }])));

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

    it('runs the appends of one group in the order they came, whatever their streams are called', () =>
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

        const [, toLater, toEarlier, bystander] = await Promise.allSettled([
          store.appendToStream(`grouped-${randomUUID()}`, [{ type: 'Alone', data: {} }]),
          store.appendToStream(later, [{ id: shared, type: 'Shared', data: {} }]),
          store.appendToStream(earlier, [{ id: shared, type: 'Shared', data: {} }]),
          store.appendToStream(`grouped-${randomUUID()}`, [{ type: 'Bystander', data: {} }]),
        ]);

        // Run alone, streams side by side, one of the two gets the id and the other is refused.
        const sharers = [toLater, toEarlier];
        const kept = sharers.find((r) => r.status === 'fulfilled')!;
        const refused = sharers.find((r) => r.status === 'rejected');
        expect(refused?.reason).toBeInstanceOf(DuplicateEventIdError);
        const types = [(await store.readStream(later)).map((e) => e.type), (await store.readStream(earlier)).map((e) => e.type)];
        expect(types.sort()).toEqual([['Created'], ['Created', 'Shared']]);
        // The group was undone, and each append ran in a transaction of its own.
        expect(bystander.status).toBe('fulfilled');
        const txOfSettled = (r: PromiseSettledResult<AppendResult>) => txOf((r as PromiseFulfilledResult<AppendResult>).value);
        expect(txOfSettled(kept)).not.toBe(txOfSettled(bystander));
      }));

    it('gives appends to one stream in one group the outcomes they would have one after another', () =>
      withStore(async (store) => {
        const stream = `grouped-${randomUUID()}`;
        const retried = [
          { id: randomUUID(), type: 'Retried', data: {} },
          { id: randomUUID(), type: 'Retried', data: {} },
        ];
        const outcomes = await Promise.allSettled([
          store.appendToStream(`grouped-${randomUUID()}`, [{ type: 'Alone', data: {} }]),
          store.appendToStream(stream, [{ type: 'Created', data: {} }], { expectedRevision: 'no_stream' }),
          store.appendToStream(stream, [{ type: 'CreatedAgain', data: {} }], { expectedRevision: 'no_stream' }),
          store.appendToStream(stream, retried, { expectedRevision: 0n }),
          store.appendToStream(stream, [{ type: 'Stale', data: {} }], { expectedRevision: 0n }),
          store.appendToStream(stream, retried, { expectedRevision: 0n }),
          store.appendToStream(stream, [{ type: 'Any', data: {} }]),
        ]);
        const summary = outcomes
          .slice(1)
          .map((o) => (o.status === 'fulfilled' ? o.value.nextExpectedRevision : (o.reason as { code: string; actual: unknown }).actual));
        expect(summary).toEqual([0n, 0n, 2n, 2n, 2n, 3n]);
        expect(outcomes.slice(1).map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
        expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['Created', 'Retried', 'Retried', 'Any']);
      }));

    it('records the data as it was when the call was made, whatever the caller does with it afterwards', () =>
      withStore(async (store) => {
        const stream = `grouped-${randomUUID()}`;
        const data = { v: 1, list: ['a'] };
        const first = store.appendToStream(`grouped-${randomUUID()}`, [{ type: 'Alone', data: {} }]);
        const waiting = store.appendToStream(stream, [{ type: 'Changed', data }]);
        data.v = 2;
        data.list.push('b');
        const [, written] = await Promise.all([first, waiting]);
        expect((await store.readStream(stream)).map((e) => e.data)).toEqual([{ v: 1, list: ['a'] }]);
        await readable(store, written.position);
        expect((await verifyLog(store, { heads: await store.streamHeads() })).problem).toBeNull();
      }));

    it('keeps a group within a size, sending the appends that would pass it in the next group', () =>
      withStore(async (store) => {
        const blob = 'x'.repeat(1_500_000);
        const [, ...big] = await Promise.all([
          store.appendToStream(`grouped-${randomUUID()}`, [{ type: 'Alone', data: {} }]),
          ...Array.from({ length: 4 }, (_, i) => store.appendToStream(`grouped-${randomUUID()}`, [{ type: 'Big', data: { i, blob } }])),
        ]);
        // 4 MB a group: the first two together, the last two together.
        expect(txOf(big[0])).toBe(txOf(big[1]));
        expect(txOf(big[2])).toBe(txOf(big[3]));
        expect(txOf(big[1])).not.toBe(txOf(big[2]));
      }));

    it('gives every caller of a group an error other than a conflict, and leaves nothing waiting', () =>
      withStore(async (store, db) => {
        // A schema without the group function: each call fails, for a reason no retry mends.
        await db.exec('DROP FUNCTION append_group(jsonb)');
        const outcomes = await Promise.allSettled(
          Array.from({ length: 4 }, () => store.appendToStream(`grouped-${randomUUID()}`, [{ type: 'Lost', data: {} }])),
        );
        expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
        expect(outcomes.map((o) => (o as PromiseRejectedResult).reason.code)).toEqual(['42883', '42883', '42883', '42883']);
        // The store is not stuck: the next call is sent too, and answered.
        await expect(store.appendToStream(`grouped-${randomUUID()}`, [{ type: 'Lost', data: {} }])).rejects.toMatchObject({ code: '42883' });
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

describeWithPostgres("group commit beside callers' transactions (PostgreSQL server)", () => {
  let db: PgDatabase;
  let store: SqlEventStore;
  beforeAll(async () => {
    db = await openPostgres(undefined, 6);
    store = await SqlEventStore.open(db, { appendsInFlight: 1 });
  });
  afterAll(() => db?.close());

  /** Waits until an append waits for the lock of `stream`. */
  const waitingFor = (executor: SqlExecutor, stream: string) =>
    eventually(async () => {
      const [row] = await executor.query<{ waiting: number }>(
        `SELECT count(*)::int AS waiting FROM pg_locks
          WHERE locktype = 'advisory' AND NOT granted
            AND objid = ((hashtext(current_schema() || ':' || $1)::bigint + 4294967296) % 4294967296)::text::oid`,
        [stream],
      );
      if (row.waiting !== 1) throw new Error(`nothing waits for ${stream} yet`);
    });

  it('runs the rest of a group whose stream is busy, and sends the busy append alone, holding nothing back', async () => {
    const prefix = `busy-${randomUUID().slice(0, 8)}`;
    const [first, busy, other, after] = [`${prefix}-0`, `${prefix}-1`, `${prefix}-2`, `${prefix}-3`];
    let sending!: Promise<AppendResult[]>;

    await db.transaction(async (caller) => {
      // A caller's transaction holds one stream: the group that wants it cannot have it.
      await store.appendWithin(caller, busy, [{ type: 'Caller', data: {} }]);
      // The first goes alone; the next two wait for it, and then go as one group.
      sending = Promise.all([
        store.appendToStream(first, [{ type: 'Sent', data: {} }]),
        store.appendToStream(busy, [{ type: 'Sent', data: {} }]),
        store.appendToStream(other, [{ type: 'Sent', data: {} }]),
      ]);
      // The busy append went alone and waits for this transaction; the rest of its group is recorded.
      await waitingFor(caller, busy);
      await eventually(async () => expect((await store.readStream(other)).map((e) => e.type)).toEqual(['Sent']));
      // Nor does the waiting append keep new ones from the database, even from inside this transaction.
      await expect(store.appendToStream(after, [{ type: 'Sent', data: {} }])).resolves.toMatchObject({ nextExpectedRevision: 0n });
    });
    const results = await sending;

    expect((await store.readStream(busy)).map((e) => [e.revision, e.type])).toEqual([
      [0n, 'Caller'],
      [1n, 'Sent'],
    ]);
    await readable(store, results[1].position);
    const inLogOrder = (await store.readAll({ filter: { streamPrefixes: [busy] } })).map((e) => e.type);
    expect(inLogOrder).toEqual(['Caller', 'Sent']);
  });

  it('does not wait for an event id that an open transaction is recording: the group is undone and runs alone', async () => {
    const prefix = `pending-${randomUUID().slice(0, 8)}`;
    const [first, pending, taker, other] = [`${prefix}-0`, `${prefix}-1`, `${prefix}-2`, `${prefix}-3`];
    await store.appendToStream(taker, [{ type: 'Created', data: {} }]);
    const id = randomUUID();
    let sending!: Promise<PromiseSettledResult<AppendResult>[]>;

    await db.transaction(async (caller) => {
      await store.appendWithin(caller, pending, [{ id, type: 'Pending', data: {} }]);
      sending = Promise.allSettled([
        store.appendToStream(first, [{ type: 'Sent', data: {} }]),
        store.appendToStream(taker, [{ id, type: 'Taken', data: {} }]),
        store.appendToStream(other, [{ type: 'Sent', data: {} }]),
      ]);
      // The group gave up on the id at once; its other append is recorded while this transaction is open.
      await eventually(async () => expect((await store.readStream(other)).map((e) => e.type)).toEqual(['Sent']));
    });
    const [, taken, sent] = await sending;

    expect(sent.status).toBe('fulfilled');
    expect(taken.status === 'rejected' && taken.reason).toBeInstanceOf(DuplicateEventIdError);
    expect((await store.readStream(taker)).map((e) => e.type)).toEqual(['Created']);
  });
});
