import { randomUUID } from 'node:crypto';
import type { SubscriptionBatch } from '../../src/eventstore/types';
import { openEsdbSubject, realEsdb, type EsdbSubject } from '../support/esdb-subject';
import { eventually } from '../support/eventually';

/**
 * The adapter's subscriptions filtered on EventStoreDB's side: what the filter drops is not sent,
 * and the position still moves past it, by the server's checkpoints and, once caught up, by
 * reading on to the end. Against the test double (its counts) and a real server when
 * EVENTSTORE_CONNECTION_STRING names one.
 */
describe('EventStoreDB adapter: subscriptions filtered on the server', () => {
  let subject: EsdbSubject;

  beforeAll(async () => {
    subject = await openEsdbSubject();
  });
  afterAll(async () => {
    await subject.close();
  });

  const noise = (count: number) => Array.from({ length: count }, (_, i) => ({ type: 'Noise', data: { i } }));

  it('gets only what passes from the server, and reaches the end of $all past a long filtered-out stretch', async () => {
    const { store, double } = subject;
    const kept = `kept${randomUUID().slice(0, 8)}-1`;
    const from = (await store.appendToStream(`mark-${randomUUID()}`, [{ type: 'Marked', data: {} }])).position;
    await store.appendToStream(`other-${randomUUID()}`, noise(50));
    await store.appendToStream(kept, [{ type: 'Signal', data: {} }]);
    const last = await store.appendToStream(`other-${randomUUID()}`, noise(150));
    const sentBefore = double?.calls.subscriptionEvents ?? 0;

    const batches: SubscriptionBatch[] = [];
    const subscription = store.subscribeToAll({ fromPosition: from, filter: { streamPrefixes: [kept] } }, (batch) => {
      batches.push(batch);
    });
    try {
      await eventually(() => expect(batches.some((b) => b.caughtUp && store.comparePositions(b.position, last.position) >= 0)).toBe(true));
      expect(batches.flatMap((b) => b.events).map((e) => e.stream)).toEqual([kept]);
      // Positions never go back, batches with events end at their last event.
      for (let i = 1; i < batches.length; i++) expect(store.comparePositions(batches[i].position, batches[i - 1].position)).toBeGreaterThanOrEqual(0);
      for (const batch of batches.filter((b) => b.events.length > 0)) expect(batch.position).toBe(batch.events[batch.events.length - 1].position);
      // The 200 records dropped by the filter never left the server.
      if (double) expect(double.calls.subscriptionEvents - sentBefore).toBe(1);
    } finally {
      await subscription.stop();
    }
  });

  it('passes what the filter drops while live, without the server saying anything, once the end of $all moves', async () => {
    const { store } = subject;
    const kept = `kept${randomUUID().slice(0, 8)}-1`;
    const batches: SubscriptionBatch[] = [];
    const subscription = store.subscribeToAll({ fromPosition: 'end', filter: { eventTypes: ['Signal'] } }, (batch) => {
      batches.push(batch);
    });
    try {
      await eventually(() => expect(batches.some((b) => b.caughtUp)).toBe(true));
      // Fewer records than a checkpoint's 32: the server sends nothing for them.
      const quiet = await store.appendToStream(`other-${randomUUID()}`, noise(5));
      await eventually(() => expect(store.comparePositions(batches[batches.length - 1].position, quiet.position)).toBeGreaterThanOrEqual(0));
      expect(batches.flatMap((b) => b.events)).toEqual([]);

      const signal = await store.appendToStream(kept, [{ type: 'Signal', data: {} }]);
      await eventually(() => expect(batches.flatMap((b) => b.events).map((e) => e.position)).toEqual([signal.position]));
    } finally {
      await subscription.stop();
    }
  });

  // Holding the server's messages back takes the test double.
  (realEsdb ? it.skip : it)('passes what the filter drops after a kept event that the server sends after the end of $all was seen past it', async () => {
    const { store } = subject;
    const double = subject.double!;
    const batches: SubscriptionBatch[] = [];
    const subscription = store.subscribeToAll({ fromPosition: 'end', filter: { eventTypes: ['Signal'] } }, (batch) => {
      batches.push(batch);
    });
    const release = double.holdLive();
    try {
      await eventually(() => expect(batches.some((b) => b.caughtUp)).toBe(true));
      const readsBefore = double.calls.read;
      // One write: a kept event and, after it, fewer dropped records than a checkpoint's 32.
      const written = await store.appendToStream(`other-${randomUUID()}`, [{ type: 'Signal', data: {} }, ...noise(5)]);
      // The store sees the new end, and reads on from the position as far as the kept event, before the server sends it.
      await eventually(() => expect(double.calls.read - readsBefore).toBeGreaterThanOrEqual(3));
      release();
      await eventually(() => expect(store.comparePositions(batches[batches.length - 1].position, written.position)).toBe(0));
      expect(batches.flatMap((b) => b.events).map((e) => e.type)).toEqual(['Signal']);
      expect(batches[batches.length - 1].caughtUp).toBe(true);
    } finally {
      release();
      await subscription.stop();
    }
  });

  it('resumes from a checkpoint at the start of a page, (C, 0), where C is an event after another: the server sends from C on', async () => {
    const { store, double } = subject;
    const kept = `kept${randomUUID().slice(0, 8)}-1`;
    await store.appendToStream(kept, [{ type: 'Signal', data: { n: 1 } }]);
    const second = await store.appendToStream(kept, [{ type: 'Signal', data: { n: 2 } }]);
    const sentBefore = double?.calls.subscriptionEvents ?? 0;
    const seen: unknown[] = [];
    const subscription = store.subscribeToAll({ fromPosition: second.position.replace(/\/P\d+$/, '/P0'), filter: { streamPrefixes: [kept] } }, (batch) => {
      seen.push(...batch.events.map((e) => e.data));
    });
    try {
      await eventually(() => expect(seen).toEqual([{ n: 2 }]));
      // The event before C was not sent again: the subscription started right after it.
      if (double) expect(double.calls.subscriptionEvents - sentBefore).toBe(1);
    } finally {
      await subscription.stop();
    }
  });

  it('reads $all backwards from a checkpoint at the start of a page, (C, 0), starting with the event before C', async () => {
    const { store } = subject;
    const kept = `kept${randomUUID().slice(0, 8)}-1`;
    const first = await store.appendToStream(kept, [{ type: 'Signal', data: { n: 1 } }]);
    const second = await store.appendToStream(kept, [{ type: 'Signal', data: { n: 2 } }]);
    const [before] = await store.readAll({ fromPosition: second.position.replace(/\/P\d+$/, '/P0'), direction: 'backwards', maxCount: 1 });
    expect(before?.position).toBe(first.position);
  });

  it('resumes from a checkpoint at the start of a page, (C, 0), with the event at C', async () => {
    const { store } = subject;
    const kept = `kept${randomUUID().slice(0, 8)}-1`;
    const first = await store.appendToStream(kept, [{ type: 'Signal', data: { n: 1 } }]);
    await store.appendToStream(kept, [{ type: 'Signal', data: { n: 2 } }]);
    const pageStart = first.position.replace(/\/P\d+$/, '/P0');
    expect(store.comparePositions(pageStart, first.position)).toBeLessThan(0);

    const seen: unknown[] = [];
    const subscription = store.subscribeToAll({ fromPosition: pageStart, filter: { streamPrefixes: [kept] } }, (batch) => {
      seen.push(...batch.events.map((e) => e.data));
    });
    try {
      await eventually(() => expect(seen).toEqual([{ n: 1 }, { n: 2 }]));
    } finally {
      await subscription.stop();
    }
  });
});
