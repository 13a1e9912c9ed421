import { randomUUID } from 'node:crypto';
import { AppendDeadlockError, AppendOrderConflictError } from '../../src/eventstore/errors';
import { parsePosition } from '../../src/eventstore/postgres/position';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { RecordedEvent, Subscription } from '../../src/eventstore/types';
import { verifyLog } from '../../src/eventstore/verify';
import type { PgDatabase } from '../../src/sql/pg-database';
import { describeWithPostgres, dropTestSchemas, openPostgres } from '../support/databases';
import { readable } from '../support/readable';

const WRITERS = 24;
const TRANSACTIONS_PER_WRITER = 12;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const random = (max: number) => Math.floor(Math.random() * max);

class Rollback extends Error {}

/**
 * Many writers hold their transactions open for random times, some taking their transaction id
 * long before they write, some rolling back, while a subscriber reads live. Sequence values are
 * then committed out of order, the trap of a plain bigserial log; the subscriber must still see
 * every committed event exactly once, in one order that every reader agrees on.
 */
describeWithPostgres('global order under concurrent writers (PostgreSQL server)', () => {
  let db: PgDatabase;
  let store: SqlEventStore;
  beforeAll(async () => {
    db = await openPostgres(undefined, WRITERS + 6);
    store = await SqlEventStore.open(db, { pollIntervalMs: 5 });
  });
  afterAll(async () => {
    await db?.close();
    await dropTestSchemas();
  });

  it('delivers every committed event exactly once, in one consistent order', async () => {
    const live: RecordedEvent[] = [];
    const subscription: Subscription = store.subscribeToAll({ fromPosition: 'start', maxBatch: 40 }, (batch) => {
      live.push(...batch.events);
    });

    const committed = new Set<string>();
    let orderConflicts = 0;
    const rolledBack = new Set<string>();
    const writer = async (w: number) => {
      for (let t = 0; t < TRANSACTIONS_PER_WRITER; t++) {
        // Half the writers share a few streams, so that they also queue for the same stream.
        const stream = w % 2 === 0 ? `shared-${random(3)}` : `writer-${w}-${t % 3}`;
        for (;;) {
          const events = Array.from({ length: 1 + random(3) }, () => ({ id: randomUUID(), type: 'Written', data: { w, t } }));
          const ids = events.map((e) => e.id);
          try {
            await db.transaction(async (tx) => {
              // Taking the transaction id early makes it older than writes that will commit before it.
              if (w % 4 < 2) await tx.query('SELECT pg_current_xact_id()');
              await sleep(random(15));
              await store.appendWithin(tx, stream, events);
              await tx.query('SELECT pg_sleep($1)', [random(30) / 1000]);
              if (random(10) === 0) throw new Rollback();
            });
            ids.forEach((id) => {
              committed.add(id);
            });
          } catch (error) {
            if (error instanceof AppendOrderConflictError) {
              orderConflicts += 1;
              continue;
            }
            if (!(error instanceof Rollback)) throw error;
            ids.forEach((id) => {
              rolledBack.add(id);
            });
          }
          break;
        }
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));

    const deadline = Date.now() + 20000;
    while (live.length < committed.size && Date.now() < deadline) await sleep(20);
    await sleep(200); // anything extra (a duplicate) would arrive now
    await subscription.stop();

    const liveIds = live.map((e) => e.id);
    expect(new Set(liveIds).size).toBe(liveIds.length);
    expect(liveIds.length).toBe(committed.size);
    expect(new Set(liveIds)).toEqual(committed);
    expect(liveIds.filter((id) => rolledBack.has(id))).toEqual([]);

    // One order: the live order is the order readAll and a later replay give.
    const all = await store.readAll();
    expect(all.map((e) => e.id)).toEqual(liveIds);
    const replayed: string[] = [];
    const replay = store.subscribeToAll({ fromPosition: 'start', maxBatch: 7 }, (batch) => {
      replayed.push(...batch.events.map((e) => e.id));
    });
    const replayDeadline = Date.now() + 20000;
    while (replayed.length < liveIds.length && Date.now() < replayDeadline) await sleep(20);
    await replay.stop();
    expect(replayed).toEqual(liveIds);
    for (let i = 1; i < live.length; i++) expect(store.comparePositions(live[i - 1].position, live[i].position)).toBeLessThan(0);

    // Every stream reads in revision order, so the hash chains verify.
    const lastRevision = new Map<string, bigint>();
    for (const event of live) {
      expect(event.revision).toBe((lastRevision.get(event.stream) ?? -1n) + 1n);
      lastRevision.set(event.stream, event.revision);
    }
    expect((await verifyLog(store, { heads: await store.streamHeads() })).problem).toBeNull();

    // The case really exercised the traps: sequence numbers were committed out of order, and
    // older transactions were turned away from streams that younger ones had written.
    expect(orderConflicts).toBeGreaterThan(0);
    const sequences = live.map((e) => parsePosition(e.position).seq);
    const inversions = sequences.filter((seq, i) => i > 0 && seq < sequences[i - 1]).length;
    expect(inversions).toBeGreaterThan(0);
  });

  it('turns an older transaction away from a stream a younger one wrote, so the stream stays in order', async () => {
    const stream = `organization-${randomUUID()}`;
    const error = await db
      .transaction(async (tx) => {
        await tx.query('SELECT pg_current_xact_id()');
        await store.appendToStream(stream, [{ type: 'OrganizationAdded', data: {} }]);
        await store.appendWithin(tx, stream, [{ type: 'CredentialAdded', data: {} }]);
      })
      .catch((e) => e);
    expect(error).toBeInstanceOf(AppendOrderConflictError);
    expect(error).toMatchObject({ code: 'APPEND_ORDER_CONFLICT', stream });
    const retried = await db.transaction((tx) => store.appendWithin(tx, stream, [{ type: 'CredentialAdded', data: {} }]));
    await readable(store, retried.position);
    const inLogOrder = (await store.readAll({ filter: { streamPrefixes: [stream] } })).map((e) => [e.revision, e.type]);
    expect(inLogOrder).toEqual([
      [0n, 'OrganizationAdded'],
      [1n, 'CredentialAdded'],
    ]);
  });

  it('refuses one of two transactions that append to two streams in opposite orders, typed so it can be run again', async () => {
    const [a, b] = [`plan-${randomUUID()}`, `plan-${randomUUID()}`];
    let bothHoldOne!: () => void;
    const holding = new Promise<void>((resolve) => (bothHoldOne = resolve));
    let held = 0;
    const crossWrite = (first: string, second: string) =>
      db.transaction(async (tx) => {
        await store.appendWithin(tx, first, [{ type: 'PlanCreated', data: { first } }]);
        if (++held === 2) bothHoldOne();
        await holding;
        await store.appendWithin(tx, second, [{ type: 'PlanCreated', data: { second } }]);
      });
    const outcomes = await Promise.allSettled([crossWrite(a, b), crossWrite(b, a)]);

    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toBeInstanceOf(AppendDeadlockError);
    expect(refused[0]).toMatchObject({ code: 'APPEND_DEADLOCK' });
    // The refused transaction wrote nothing: each stream holds only the survivor's one event.
    expect((await store.readStream(a)).length).toBe(1);
    expect((await store.readStream(b)).length).toBe(1);
  });

  it('keeps streams in order under plain concurrent appends to the same streams', async () => {
    const prefix = `contended-${randomUUID().slice(0, 8)}`;
    const positions: string[] = [];
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        for (let i = 0; i < 15; i++) positions.push((await store.appendToStream(`${prefix}-${i % 2}`, [{ type: 'Written', data: { w, i } }])).position);
      }),
    );
    await readable(store, positions.sort((a, b) => store.comparePositions(a, b))[positions.length - 1]);
    const events = await store.readAll({ filter: { streamPrefixes: [prefix] } });
    expect(events).toHaveLength(WRITERS * 15);
    for (const [stream, count] of [
      [`${prefix}-0`, WRITERS * 8],
      [`${prefix}-1`, WRITERS * 7],
    ] as const) {
      expect(events.filter((e) => e.stream === stream).map((e) => e.revision)).toEqual(Array.from({ length: count }, (_, i) => BigInt(i)));
    }
    expect((await verifyLog(store)).problem).toBeNull();
  });
});
