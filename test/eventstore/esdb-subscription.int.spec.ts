import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store';
import type { SubscriptionBatch } from '../../src/eventstore/types';
import { EsdbDouble } from '../support/esdb-double/server';
import { realEsdb } from '../support/esdb-subject';
import { eventually } from '../support/eventually';

/** Making a server find a subscriber too slow takes the test double's modes. */
const describeWithDouble = realEsdb ? describe.skip : describe;

describeWithDouble('EventStoreDB adapter: a live subscriber slower than the log (against the test double)', () => {
  it.each([
    ['drop', '23.10 drops the subscription, and the adapter subscribes again from its last event'],
    ['fall-behind', '24.x says it fell behind and serves it from the log'],
  ] as const)(
    'slowConsumers %s: EventStoreDB %s; every event once, in order, and the subscription goes on',
    async (mode, _what) => {
      const double = await EsdbDouble.start({ slowConsumers: mode });
      const store = EsdbEventStore.connect(double.connectionString);
      try {
        const seen: number[] = [];
        const batches: SubscriptionBatch[] = [];
        let release!: () => void;
        const held = new Promise<void>((resolve) => (release = resolve));
        let holding = false;
        const subscription = store.subscribeToAll({ fromPosition: 'start', maxBatch: 20 }, async (batch) => {
          batches.push(batch);
          seen.push(...batch.events.map((e) => (e.data as { i: number }).i));
          // The first live batch holds the handler while the log grows.
          if (seen.length > 0 && !holding) {
            holding = true;
            await held;
          }
        });
        let settled = false;
        void subscription.done.then(
          () => (settled = true),
          () => (settled = true),
        );
        await eventually(() => expect(batches.some((b) => b.caughtUp)).toBe(true));

        // Enough to overrun the server's live buffer (32 messages) many times over while the handler is held.
        const total = 1000;
        const text = 'x'.repeat(1000);
        for (let from = 0; from < total; from += 100) {
          const events = Array.from({ length: 100 }, (_, k) => ({ type: 'Numbered', data: { i: from + k, text } }));
          await store.appendToStream(`numbered-${from % 7}`, events);
        }
        await eventually(() => expect(double.calls.slowConsumers).toBeGreaterThanOrEqual(1), 30_000);
        release();

        // Correctness, not speed, is asserted: on a loaded machine the catch-up after a drop crawls.
        await eventually(() => expect(seen).toHaveLength(total), 90_000);
        expect(seen).toEqual(Array.from({ length: total }, (_, i) => i));
        expect(settled).toBe(false);
        await eventually(() => expect(batches[batches.length - 1].caughtUp).toBe(true));
        await subscription.stop();
      } finally {
        await store.close();
        await double.stop();
      }
    },
    180_000,
  );
});
