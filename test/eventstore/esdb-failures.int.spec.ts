import { EventStoreDBClient } from '@eventstore/db-client';
import { randomUUID } from 'node:crypto';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store';
import { EventStoreUnavailableError, StreamDeletedError } from '../../src/eventstore/errors';
import type { RecordedEvent, SubscriptionBatch } from '../../src/eventstore/types';
import { verifyLog } from '../../src/eventstore/verify';
import { EsdbDouble } from '../support/esdb-double/server';
import { realEsdb } from '../support/esdb-subject';
import { eventually } from '../support/eventually';

const PASSWORD = 'pw-that-must-not-leak';

/** Stopping and restarting the server, and dropping its subscriptions, take the test double. */
const describeWithDouble = realEsdb ? describe.skip : describe;

describeWithDouble('EventStoreDB adapter when things go wrong (against the test double)', () => {
  let double: EsdbDouble;
  let store: EsdbEventStore;
  let raw: EventStoreDBClient;

  beforeEach(async () => {
    double = await EsdbDouble.start();
    // Credentials in the string, as a deployment would have them: they must appear in no error.
    store = EsdbEventStore.connect(double.connectionString.replace('esdb://', `esdb://admin:${PASSWORD}@`));
    raw = EventStoreDBClient.connectionString(double.connectionString);
  });
  afterEach(async () => {
    await store.close();
    await raw.dispose();
    await double.stop();
  });

  const stream = () => `thing-${randomUUID()}`;
  const event = (type: string, data: Record<string, number> = {}) => ({ type, data });

  describe('the server unavailable', () => {
    it('answers EVENT_STORE_UNAVAILABLE, without the password, and recovers by itself once the server is back', async () => {
      const name = stream();
      await store.appendToStream(name, [event('Before')]);
      await double.stop();

      const failures = await Promise.all([
        store.appendToStream(name, [event('During')]).catch((e: unknown) => e),
        store.readStream(name).catch((e: unknown) => e),
        store.readAll().catch((e: unknown) => e),
        store.headPosition().catch((e: unknown) => e),
      ]);
      for (const failure of failures) {
        expect(failure).toBeInstanceOf(EventStoreUnavailableError);
        expect(failure).toMatchObject({ code: 'EVENT_STORE_UNAVAILABLE' });
        expect(String((failure as Error).message)).not.toContain(PASSWORD);
        expect(String((failure as Error).stack)).not.toContain(PASSWORD);
        expect((failure as Error).message).toContain('127.0.0.1');
      }

      await double.restart();
      const after = await eventually(() => store.appendToStream(name, [event('After')], { expectedRevision: 0n }), 30_000, 100);
      expect(after.nextExpectedRevision).toBe(1n);
      expect((await store.readStream(name)).map((e) => e.type)).toEqual(['Before', 'After']);
    });

    it('ends a live subscription with EVENT_STORE_UNAVAILABLE when the server goes away', async () => {
      let caughtUp = false;
      const subscription = store.subscribeToAll({ fromPosition: 'start' }, (batch) => {
        caughtUp ||= batch.caughtUp;
      });
      await eventually(() => expect(caughtUp).toBe(true));
      await double.stop();
      await expect(subscription.done).rejects.toMatchObject({ code: 'EVENT_STORE_UNAVAILABLE' });
    });
  });

  describe('a stream deleted behind the store', () => {
    it('soft-deleted: reads as empty; a writer that must read its end is refused with STREAM_DELETED and writes nothing', async () => {
      const name = stream();
      await store.appendToStream(name, [event('A'), event('B')]);
      await raw.deleteStream(name);
      // Another process: it knows nothing of the stream's end, so it reads it first.
      const cold = EsdbEventStore.connect(double.connectionString);
      try {
        expect(await cold.readStream(name)).toEqual([]);
        for (const expectedRevision of ['any', 'stream_exists', 1n] as const) {
          const error = await cold.appendToStream(name, [event('C')], { expectedRevision }).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(StreamDeletedError);
          expect(error).toMatchObject({ code: 'STREAM_DELETED', stream: name });
        }
      } finally {
        await cold.close();
      }
      expect(double.log.all.filter((e) => e.stream === name).map((e) => e.type)).toEqual(['A', 'B']);
    });

    it('soft-deleted: a writer that knows its end writes as EventStoreDB lets it, continuing its revisions and chain', async () => {
      const name = stream();
      const { nextExpectedRevision } = await store.appendToStream(name, [event('A'), event('B')]);
      await raw.deleteStream(name);

      // EventStoreDB takes a write at the stream's true last revision and brings the stream back
      // without its deleted events: the chain goes on from them, as $all (and verify) shows.
      await expect(store.appendToStream(name, [event('C')], { expectedRevision: nextExpectedRevision })).resolves.toMatchObject({ nextExpectedRevision: 2n });
      expect((await store.readStream(name)).map((e) => [e.type, e.revision])).toEqual([['C', 2n]]);
      expect((await verifyLog(store)).problem).toBeNull();
    });

    it('tombstoned: reading and appending are refused with STREAM_DELETED', async () => {
      const name = stream();
      await store.appendToStream(name, [event('A')]);
      await raw.tombstoneStream(name);

      await expect(store.readStream(name)).rejects.toMatchObject({ code: 'STREAM_DELETED', stream: name });
      await expect(store.appendToStream(name, [event('B')])).rejects.toMatchObject({ code: 'STREAM_DELETED', stream: name });
    });
  });

  describe('a subscription dropped mid-stream', () => {
    it('ends with EVENT_STORE_UNAVAILABLE; one resumed from the last batch gets the rest, nothing twice', async () => {
      const name = stream();
      const first = Array.from({ length: 10 }, (_, i) => event('Numbered', { i }));
      await store.appendToStream(name, first);

      const seen: RecordedEvent[] = [];
      let last: SubscriptionBatch | undefined;
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const subscription = store.subscribeToAll({ fromPosition: 'start', maxBatch: 4 }, async (batch) => {
        seen.push(...batch.events);
        last = batch;
        // Holds the first batch, so that the drop comes while the rest is still to be delivered.
        if (seen.length === 4) await held;
      });
      await eventually(() => expect(seen).toHaveLength(4));
      expect(double.subscriptionCount).toBe(1);
      double.dropSubscriptions();
      release();
      await expect(subscription.done).rejects.toMatchObject({ code: 'EVENT_STORE_UNAVAILABLE' });

      const more = Array.from({ length: 5 }, (_, i) => event('Numbered', { i: 10 + i }));
      await store.appendToStream(name, more);
      const resumed = store.subscribeToAll({ fromPosition: last!.position }, (batch) => {
        seen.push(...batch.events);
      });
      await eventually(() => expect(seen.length).toBeGreaterThanOrEqual(15));
      await resumed.stop();
      expect(seen.map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    });
  });
});
