import { randomUUID } from 'node:crypto';
import { DuplicateEventIdError, InvalidArgumentError, WrongExpectedVersionError } from '../../src/eventstore/errors';
import type { AppendResult, EventData, EventStore, Position, RecordedEvent, SubscriptionBatch } from '../../src/eventstore/types';
import { verifyLog } from '../../src/eventstore/verify';
import { readable } from '../support/readable';

export interface ContractSubject {
  store: EventStore;
  close(): Promise<void>;
}

let counter = 0;
/** A stream name no other case uses. */
function newStream(prefix = 'thing'): string {
  counter += 1;
  return `${prefix}-${counter}${randomUUID().slice(0, 8)}`;
}

function event(type: string, data: EventData['data'] = {}, id?: string): EventData {
  return id ? { id, type, data } : { type, data };
}

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** What a store promises where stores may differ, each said in the adapter's own documentation. */
export interface ContractTerms {
  /**
   * 'log' (the default): an event id is recorded once in the whole log, and an append naming an
   * id recorded in another stream is refused. 'stream': ids are checked within a stream only, as
   * on EventStoreDB, which has no multi-stream transaction to check them across streams exactly.
   */
  uniqueIds?: 'log' | 'stream';
}

/**
 * The event-store port's contract. Every adapter runs it unchanged; it reaches the store only
 * through the port.
 */
export function eventStoreContract(adapter: string, open: () => Promise<ContractSubject>, terms: ContractTerms = {}): void {
  const idsUniqueInLog = (terms.uniqueIds ?? 'log') === 'log';
  describe(`event store contract: ${adapter}`, () => {
    let subject: ContractSubject;
    let store: EventStore;

    beforeAll(async () => {
      subject = await open();
      store = subject.store;
    });
    afterAll(async () => {
      await subject?.close();
    });

    /**
     * A position after everything this suite wrote, so that a case reads only what it writes
     * itself. Appends can take a moment to become readable (a server-wide transaction still open
     * holds readers back), so it writes a marker and waits until the marker can be read.
     */
    async function mark(): Promise<Position> {
      const { position } = await store.appendToStream(newStream('mark'), [event('Marked')]);
      await readable(store, position);
      return position;
    }

    describe('appendToStream', () => {
      it('records a batch in order and returns the last revision and its global position', async () => {
        const stream = newStream();
        const result = await store.appendToStream(stream, [event('A', { n: 1 }), event('B', { n: 2 }), event('C', { n: 3 })], {
          expectedRevision: 'no_stream',
        });
        expect(result.nextExpectedRevision).toBe(2n);

        const events = await store.readStream(stream);
        expect(events.map((e) => [e.type, e.revision, e.data])).toEqual([
          ['A', 0n, { n: 1 }],
          ['B', 1n, { n: 2 }],
          ['C', 2n, { n: 3 }],
        ]);
        expect(events[2].position).toBe(result.position);
        expect(store.comparePositions(events[0].position, events[1].position)).toBeLessThan(0);
        expect(store.comparePositions(events[1].position, events[2].position)).toBeLessThan(0);
      });

      it('gives every recorded event an id, type, data, metadata, stream, revision, position, time and hash', async () => {
        const stream = newStream();
        const id = randomUUID();
        const before = Date.now();
        await store.appendToStream(stream, [{ id, type: 'Described', data: { nested: { list: [1, 'two', null, true] } }, metadata: { actor: 'ann' } }]);
        const [recorded] = await store.readStream(stream);
        expect(recorded).toEqual<RecordedEvent>({
          id,
          type: 'Described',
          data: { nested: { list: [1, 'two', null, true] } },
          metadata: { actor: 'ann' },
          stream,
          revision: 0n,
          position: expect.any(String),
          recordedAt: expect.any(Date),
          hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        });
        expect(recorded.recordedAt.getTime()).toBeGreaterThanOrEqual(before - 5000);
      });

      it('generates a uuid when an event comes without an id', async () => {
        const stream = newStream();
        await store.appendToStream(stream, [event('A'), event('B')]);
        const ids = (await store.readStream(stream)).map((e) => e.id);
        expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(ids[0]).not.toBe(ids[1]);
      });

      it('keeps strings, numbers and unicode exactly as written', async () => {
        const stream = newStream();
        const data = { text: 'ünïcødé ✓ "quoted" \\ back\nline 🚀', small: 1.5e-7, big: 1e21, negative: -0.25, zero: 0, max: Number.MAX_SAFE_INTEGER };
        await store.appendToStream(stream, [event('Exact', data)]);
        expect((await store.readStream(stream))[0].data).toEqual(data);
      });

      describe('expected revision', () => {
        it('no_stream: accepted for a new stream, refused once it exists', async () => {
          const stream = newStream();
          await store.appendToStream(stream, [event('A')], { expectedRevision: 'no_stream' });
          const error = await store.appendToStream(stream, [event('B')], { expectedRevision: 'no_stream' }).catch((e) => e);
          expect(error).toBeInstanceOf(WrongExpectedVersionError);
          expect(error).toMatchObject({ code: 'WRONG_EXPECTED_VERSION', stream, expected: 'no_stream', actual: 0n });
        });

        it('stream_exists: refused for a missing stream, accepted once it exists', async () => {
          const stream = newStream();
          const error = await store.appendToStream(stream, [event('A')], { expectedRevision: 'stream_exists' }).catch((e) => e);
          expect(error).toBeInstanceOf(WrongExpectedVersionError);
          expect(error).toMatchObject({ expected: 'stream_exists', actual: 'no_stream' });
          expect(await store.readStream(stream)).toEqual([]);

          await store.appendToStream(stream, [event('A')]);
          const result = await store.appendToStream(stream, [event('B')], { expectedRevision: 'stream_exists' });
          expect(result.nextExpectedRevision).toBe(1n);
        });

        it('an exact revision: accepted when it is the last one, refused with expected and actual otherwise', async () => {
          const stream = newStream();
          await store.appendToStream(stream, [event('A'), event('B')]);
          await expect(store.appendToStream(stream, [event('C')], { expectedRevision: 1n })).resolves.toMatchObject({ nextExpectedRevision: 2n });

          for (const stale of [0n, 1n, 3n]) {
            const error = await store.appendToStream(stream, [event('D')], { expectedRevision: stale }).catch((e) => e);
            expect(error).toBeInstanceOf(WrongExpectedVersionError);
            expect(error).toMatchObject({ expected: stale, actual: 2n });
          }
          const missing = await store.appendToStream(newStream(), [event('A')], { expectedRevision: 0n }).catch((e) => e);
          expect(missing).toMatchObject({ code: 'WRONG_EXPECTED_VERSION', actual: 'no_stream' });
        });

        it('any: accepted whether or not the stream exists', async () => {
          const stream = newStream();
          await store.appendToStream(stream, [event('A')], { expectedRevision: 'any' });
          await store.appendToStream(stream, [event('B')], { expectedRevision: 'any' });
          expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['A', 'B']);
        });

        it('a refused append writes nothing anywhere', async () => {
          const stream = newStream();
          await store.appendToStream(stream, [event('A')]);
          const from = await mark();
          await expect(store.appendToStream(stream, [event('B'), event('C')], { expectedRevision: 5n })).rejects.toThrow(WrongExpectedVersionError);
          await expect(store.appendToStream(stream, [event('B')], { expectedRevision: 'no_stream' })).rejects.toThrow(WrongExpectedVersionError);
          expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['A']);
          await mark();
          expect((await store.readAll({ fromPosition: from })).map((e) => e.type)).toEqual(['Marked']);
          expect(await store.appendToStream(stream, [event('B')], { expectedRevision: 0n })).toMatchObject({ nextExpectedRevision: 1n });
        });

        it('lets exactly one of many concurrent writers with the same expected revision win', async () => {
          const stream = newStream();
          await store.appendToStream(stream, [event('A')]);
          const results = await Promise.allSettled(
            Array.from({ length: 8 }, (_, i) => store.appendToStream(stream, [event('Racer', { i })], { expectedRevision: 0n })),
          );
          expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
          for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(WrongExpectedVersionError);
          expect(await store.readStream(stream)).toHaveLength(2);
        });
      });

      describe('retries by event id', () => {
        it('a batch sent again at the same place succeeds and is recorded once', async () => {
          const stream = newStream();
          const batch = [event('A', { n: 1 }, randomUUID()), event('B', { n: 2 }, randomUUID())];
          const first = await store.appendToStream(stream, batch, { expectedRevision: 'no_stream' });
          const again = await store.appendToStream(stream, batch, { expectedRevision: 'no_stream' });
          expect(again).toEqual(first);
          await store.appendToStream(stream, [event('C')], { expectedRevision: 1n });
          const later = [event('D', {}, randomUUID())];
          const once = await store.appendToStream(stream, later, { expectedRevision: 2n });
          expect(await store.appendToStream(stream, later, { expectedRevision: 2n })).toEqual(once);
          expect(await store.appendToStream(stream, later, { expectedRevision: 'any' })).toEqual(once);
          expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['A', 'B', 'C', 'D']);
        });

        // Each store is held to the terms it promises: one of the two next cases is defined for it, never skipped.
        const ifIdsUniqueInLog = idsUniqueInLog ? it : () => undefined;
        const ifIdsUniqueInStream = idsUniqueInLog ? () => undefined : it;

        ifIdsUniqueInLog('an id already recorded in another stream, or a batch that only partly matches, is refused and writes nothing', async () => {
          const first = newStream();
          const id = randomUUID();
          await store.appendToStream(first, [event('A', {}, id)]);
          const other = newStream();
          const moved = await store.appendToStream(other, [event('A', {}, id)]).catch((e) => e);
          expect(moved).toBeInstanceOf(DuplicateEventIdError);
          expect(moved).toMatchObject({ code: 'DUPLICATE_EVENT_ID', eventIds: [id] });
          expect(await store.readStream(other)).toEqual([]);
          await expect(store.appendToStream(other, [event('B')], { expectedRevision: 'no_stream' })).resolves.toBeDefined();

          const partly = await store.appendToStream(first, [event('A', {}, id), event('New', {}, randomUUID())], { expectedRevision: 'any' }).catch((e) => e);
          expect(partly).toBeInstanceOf(DuplicateEventIdError);
          expect(await store.readStream(first)).toHaveLength(1);
        });

        ifIdsUniqueInStream('ids unique within a stream only: a batch partly matching the stream is refused, another stream takes the id', async () => {
          const first = newStream();
          const id = randomUUID();
          await store.appendToStream(first, [event('A', {}, id)]);
          const partly = await store.appendToStream(first, [event('A', {}, id), event('New', {}, randomUUID())], { expectedRevision: 'any' }).catch((e) => e);
          expect(partly).toBeInstanceOf(DuplicateEventIdError);
          expect(partly).toMatchObject({ code: 'DUPLICATE_EVENT_ID', eventIds: [id] });
          const atStart = await store
            .appendToStream(first, [event('A', {}, id), event('New', {}, randomUUID())], { expectedRevision: 'no_stream' })
            .catch((e) => e);
          expect(atStart).toBeInstanceOf(WrongExpectedVersionError);
          expect(await store.readStream(first)).toHaveLength(1);

          const other = newStream();
          await store.appendToStream(other, [event('A', {}, id)], { expectedRevision: 'no_stream' });
          expect((await store.readStream(other)).map((e) => e.id)).toEqual([id]);
        });

        it('the same ids at another place with an exact revision report the stream as moved on', async () => {
          const stream = newStream();
          const batch = [event('A', {}, randomUUID())];
          await store.appendToStream(stream, batch, { expectedRevision: 'no_stream' });
          await store.appendToStream(stream, [event('B')]);
          const error = await store.appendToStream(stream, batch, { expectedRevision: 0n }).catch((e) => e);
          expect(error).toBeInstanceOf(WrongExpectedVersionError);
          expect(error).toMatchObject({ actual: 1n });
        });
      });

      describe('concurrent appends', () => {
        it('each meets its own outcome: refusals write nothing and do not stop the others', async () => {
          const contested = newStream();
          await store.appendToStream(contested, [event('Created')]);
          const recorded = randomUUID();
          await store.appendToStream(newStream(), [event('Elsewhere', {}, recorded)]);
          const retried = newStream();
          const retriedBatch = [event('Once', {}, randomUUID())];
          const firstTime = await store.appendToStream(retried, retriedBatch, { expectedRevision: 'no_stream' });
          const plain = Array.from({ length: 24 }, () => newStream());
          const fresh = newStream();
          const missing = newStream();
          const stolen = newStream();

          // All sent at once, with nothing awaited in between.
          const [raceA, raceB, created, absent, duplicate, retry, ...rest] = await Promise.allSettled([
            store.appendToStream(contested, [event('RaceA')], { expectedRevision: 0n }),
            store.appendToStream(contested, [event('RaceB')], { expectedRevision: 0n }),
            store.appendToStream(fresh, [event('Fresh')], { expectedRevision: 'no_stream' }),
            store.appendToStream(missing, [event('Absent')], { expectedRevision: 5n }),
            store.appendToStream(stolen, [event('Stolen', {}, recorded)]),
            store.appendToStream(retried, retriedBatch, { expectedRevision: 'no_stream' }),
            ...plain.map((stream, i) => store.appendToStream(stream, [event('Plain', { i })], { expectedRevision: 'no_stream' })),
          ]);

          const race = [raceA, raceB];
          expect(race.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
          const lost = race.find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason;
          expect(lost).toBeInstanceOf(WrongExpectedVersionError);
          expect(lost).toMatchObject({ expected: 0n, actual: 1n });
          expect(await store.readStream(contested)).toHaveLength(2);

          expect(created).toMatchObject({ status: 'fulfilled', value: { nextExpectedRevision: 0n } });
          expect(absent.status === 'rejected' && absent.reason).toBeInstanceOf(WrongExpectedVersionError);
          expect(await store.readStream(missing)).toEqual([]);
          if (idsUniqueInLog) {
            expect(duplicate.status === 'rejected' && duplicate.reason).toBeInstanceOf(DuplicateEventIdError);
            expect(await store.readStream(stolen)).toEqual([]);
          } else {
            expect(duplicate.status).toBe('fulfilled');
            expect((await store.readStream(stolen)).map((e) => e.id)).toEqual([recorded]);
          }
          expect(retry).toEqual({ status: 'fulfilled', value: firstTime });
          expect(await store.readStream(retried)).toHaveLength(1);

          expect(rest.every((r) => r.status === 'fulfilled')).toBe(true);
          for (const [i, stream] of plain.entries()) {
            expect((await store.readStream(stream)).map((e) => [e.revision, e.data])).toEqual([[0n, { i }]]);
          }
          const positions = rest.map((r) => (r as PromiseFulfilledResult<AppendResult>).value.position);
          expect(new Set(positions).size).toBe(positions.length);
        });
      });
    });

    describe('readStream', () => {
      let stream: string;
      beforeAll(async () => {
        stream = newStream();
        await store.appendToStream(
          stream,
          ['E0', 'E1', 'E2', 'E3', 'E4'].map((type) => event(type)),
        );
      });
      const types = (events: RecordedEvent[]) => events.map((e) => e.type);

      it('reads forwards from the start, from a revision, and up to maxCount', async () => {
        expect(types(await store.readStream(stream))).toEqual(['E0', 'E1', 'E2', 'E3', 'E4']);
        expect(types(await store.readStream(stream, { fromRevision: 2n }))).toEqual(['E2', 'E3', 'E4']);
        expect(types(await store.readStream(stream, { fromRevision: 1n, maxCount: 2 }))).toEqual(['E1', 'E2']);
        expect(await store.readStream(stream, { fromRevision: 9n })).toEqual([]);
      });

      it('reads backwards from the end or from a revision', async () => {
        expect(types(await store.readStream(stream, { direction: 'backwards' }))).toEqual(['E4', 'E3', 'E2', 'E1', 'E0']);
        expect(types(await store.readStream(stream, { direction: 'backwards', fromRevision: 'end', maxCount: 2 }))).toEqual(['E4', 'E3']);
        expect(types(await store.readStream(stream, { direction: 'backwards', fromRevision: 1n }))).toEqual(['E1', 'E0']);
      });

      it('orders by revision, not by its digits, in long streams and batches', async () => {
        const long = newStream();
        const numbers = Array.from({ length: 25 }, (_, i) => i);
        const written = await store.appendToStream(
          long,
          numbers.map((i) => event('Numbered', { i })),
        );
        await readable(store, written.position);
        expect((await store.readStream(long)).map((e) => e.revision)).toEqual(numbers.map(BigInt));
        expect((await store.readStream(long, { direction: 'backwards' })).map((e) => e.revision)).toEqual([...numbers].reverse().map(BigInt));
        const all = await store.readAll({ direction: 'backwards', maxCount: 25 });
        expect(all.map((e) => e.data)).toEqual([...numbers].reverse().map((i) => ({ i })));
        expect(await store.headPosition()).toBe(all[0].position);
      });

      it('reads a stream that does not exist as empty', async () => {
        expect(await store.readStream(newStream())).toEqual([]);
      });
    });

    describe('readAll', () => {
      let from: Position | 'start';
      let written: RecordedEvent[];
      let planStream: string;
      beforeAll(async () => {
        from = await mark();
        planStream = newStream('plan');
        const orgStream = newStream('organization');
        await store.appendToStream(planStream, [event('PlanCreated'), event('PlanCredentialToggled')]);
        await store.appendToStream(orgStream, [event('OrganizationAdded')]);
        const last = await store.appendToStream(planStream, [event('PlanCredentialToggled')]);
        await readable(store, last.position);
        written = await store.readAll({ fromPosition: from });
      });

      it('reads every stream in global order, each position after the last', async () => {
        expect(written.map((e) => e.type)).toEqual(['PlanCreated', 'PlanCredentialToggled', 'OrganizationAdded', 'PlanCredentialToggled']);
        for (let i = 1; i < written.length; i++) expect(store.comparePositions(written[i - 1].position, written[i].position)).toBeLessThan(0);
        expect(await store.headPosition()).toBe(written[written.length - 1].position);
      });

      it('starts after the given position, forwards and backwards, up to maxCount', async () => {
        expect(await store.readAll({ fromPosition: written[1].position })).toEqual(written.slice(2));
        expect(await store.readAll({ fromPosition: written[0].position, maxCount: 2 })).toEqual(written.slice(1, 3));
        expect(await store.readAll({ fromPosition: written[2].position, direction: 'backwards', maxCount: 2 })).toEqual([written[1], written[0]]);
        expect((await store.readAll({ direction: 'backwards', maxCount: 1 }))[0]).toEqual(written[3]);
        expect(await store.readAll({ fromPosition: 'end' })).toEqual([]);
      });

      it('filters by event type and by stream prefix', async () => {
        const toggled = await store.readAll({ fromPosition: from, filter: { eventTypes: ['PlanCredentialToggled'] } });
        expect(toggled.map((e) => e.id)).toEqual([written[1].id, written[3].id]);
        const organizations = await store.readAll({ fromPosition: from, filter: { streamPrefixes: ['organization-'] } });
        expect(organizations.map((e) => e.type)).toEqual(['OrganizationAdded']);
        const both = await store.readAll({ fromPosition: from, filter: { eventTypes: ['PlanCreated', 'OrganizationAdded'], streamPrefixes: [planStream] } });
        expect(both.map((e) => e.type)).toEqual(['PlanCreated']);
      });
    });

    describe('subscribeToAll', () => {
      it('replays history in global order, says when it caught up, then delivers new events live', async () => {
        const from = await mark();
        const stream = newStream();
        const old = await store.appendToStream(stream, [event('Old1'), event('Old2')]);
        await readable(store, old.position);
        const seen: RecordedEvent[] = [];
        const caughtUpAfter: number[] = [];
        const subscription = store.subscribeToAll({ fromPosition: from }, (batch) => {
          seen.push(...batch.events);
          if (batch.caughtUp) caughtUpAfter.push(seen.length);
        });
        await eventually(() => caughtUpAfter.length > 0);
        expect(seen.map((e) => e.type)).toEqual(['Old1', 'Old2']);

        await store.appendToStream(stream, [event('New1')]);
        await store.appendToStream(newStream(), [event('New2')]);
        await eventually(() => seen.length === 4);
        expect(seen.map((e) => e.type)).toEqual(['Old1', 'Old2', 'New1', 'New2']);
        await subscription.stop();
        await expect(subscription.done).resolves.toBeUndefined();

        await store.appendToStream(stream, [event('AfterStop')]);
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(seen).toHaveLength(4);
      });

      it('resumes after a position and delivers history in batches no larger than maxBatch', async () => {
        const from = await mark();
        const stream = newStream();
        const written = await store.appendToStream(
          stream,
          Array.from({ length: 7 }, (_, i) => event('Numbered', { i })),
        );
        await readable(store, written.position);
        const [first] = await store.readAll({ fromPosition: from, maxCount: 1 });
        const batches: SubscriptionBatch[] = [];
        const subscription = store.subscribeToAll({ fromPosition: first.position, maxBatch: 3 }, (batch) => {
          batches.push(batch);
        });
        await eventually(() => batches.some((b) => b.caughtUp));
        await subscription.stop();
        const events = batches.flatMap((b) => b.events);
        expect(events.map((e) => e.data)).toEqual([1, 2, 3, 4, 5, 6].map((i) => ({ i })));
        expect(Math.max(...batches.map((b) => b.events.length))).toBeLessThanOrEqual(3);
        for (const batch of batches.filter((b) => b.events.length > 0)) expect(batch.position).toBe(batch.events[batch.events.length - 1].position);
      });

      it("from 'end' delivers only what is appended afterwards", async () => {
        await store.appendToStream(newStream(), [event('Before')]);
        await mark();
        const seen: string[] = [];
        let caughtUp = false;
        const subscription = store.subscribeToAll({ fromPosition: 'end' }, (batch) => {
          seen.push(...batch.events.map((e) => e.type));
          caughtUp ||= batch.caughtUp;
        });
        await eventually(() => caughtUp);
        await store.appendToStream(newStream(), [event('After')]);
        await eventually(() => seen.length > 0);
        await subscription.stop();
        expect(seen).toEqual(['After']);
      });

      it('filters, and still reports how far it read past filtered-out events', async () => {
        const from = await mark();
        const keep = newStream('kept');
        await store.appendToStream(newStream('other'), [event('Noise')]);
        await store.appendToStream(keep, [event('Signal')]);
        const last = await store.appendToStream(newStream('other'), [event('Noise')]);
        const batches: SubscriptionBatch[] = [];
        const subscription = store.subscribeToAll({ fromPosition: from, filter: { streamPrefixes: ['kept-'] } }, (batch) => {
          batches.push(batch);
        });
        await eventually(() => batches.some((b) => store.comparePositions(b.position, last.position) >= 0));
        await subscription.stop();
        expect(batches.flatMap((b) => b.events).map((e) => e.type)).toEqual(['Signal']);
        expect(store.comparePositions(batches[batches.length - 1].position, last.position)).toBeGreaterThanOrEqual(0);
      });

      it('passes filtered-out events written while it is live, as far as the end of the log', async () => {
        const keep = newStream('kept');
        const batches: SubscriptionBatch[] = [];
        const subscription = store.subscribeToAll({ fromPosition: 'end', filter: { streamPrefixes: ['kept-'] } }, (batch) => {
          batches.push(batch);
        });
        await eventually(() => batches.some((b) => b.caughtUp));
        const last = await store.appendToStream(newStream('other'), [event('Noise'), event('Noise'), event('Noise')]);
        await eventually(() => store.comparePositions(batches[batches.length - 1].position, last.position) >= 0);
        const signal = await store.appendToStream(keep, [event('Signal')]);
        await eventually(() => batches.some((b) => b.events.length > 0));
        await subscription.stop();
        expect(batches.flatMap((b) => b.events).map((e) => e.position)).toEqual([signal.position]);
      });

      it('ends with the error when the handler fails, and delivers nothing after it', async () => {
        await store.appendToStream(newStream(), [event('A'), event('B')]);
        let calls = 0;
        const subscription = store.subscribeToAll({ fromPosition: 'start', maxBatch: 1 }, () => {
          calls += 1;
          throw new Error('handler broke');
        });
        await expect(subscription.done).rejects.toThrow('handler broke');
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(calls).toBe(1);
      });
    });

    describe('bad input: a clear error and nothing written', () => {
      async function expectRefused(attempt: () => Promise<unknown>, message: RegExp): Promise<void> {
        const from = await mark();
        const error = (await attempt().catch((e: unknown) => e)) as InvalidArgumentError;
        expect(error).toBeInstanceOf(InvalidArgumentError);
        expect(error.code).toBe('INVALID_ARGUMENT');
        expect(error.message).toMatch(message);
        await mark();
        expect((await store.readAll({ fromPosition: from })).map((e) => e.type)).toEqual(['Marked']);
      }

      it.each([
        ['an empty name', ''],
        ['a space', 'plan 1'],
        ['a system-stream name', '$all'],
        ['a slash', 'plan/1'],
        ['a name too long', `plan-${'x'.repeat(300)}`],
      ])('refuses a stream name with %s', async (_, name) => {
        await expectRefused(() => store.appendToStream(name, [event('A')]), /invalid stream name/);
      });

      it('refuses an empty batch or no array', async () => {
        await expectRefused(() => store.appendToStream(newStream(), []), /non-empty array/);
        await expectRefused(() => store.appendToStream(newStream(), undefined as unknown as EventData[]), /non-empty array/);
      });

      it.each<[string, unknown, RegExp]>([
        ['undefined', undefined, /not JSON/],
        ['a function', () => 1, /not JSON/],
        ['NaN', Number.NaN, /not JSON/],
        ['Infinity', { n: Number.POSITIVE_INFINITY }, /not JSON/],
        ['a bigint', { n: 1n }, /not JSON/],
        ['a Date', { at: new Date() }, /Date.*ISO string/],
        ['a Map', new Map(), /Map/],
        ['a NUL character', { s: 'a\u0000b' }, /NUL/],
        ['a lone surrogate', { s: '\ud800' }, /surrogate/],
        ['an undefined property', { a: undefined }, /data\.a is undefined/],
      ])('refuses data holding %s', async (_, data, message) => {
        await expectRefused(() => store.appendToStream(newStream(), [{ type: 'A', data: data as EventData['data'] }]), message);
      });

      it('refuses circular data, bad event types, ids and metadata, even when other events of the batch are fine', async () => {
        const circular: Record<string, unknown> = {};
        circular.self = circular;
        await expectRefused(() => store.appendToStream(newStream(), [event('Ok'), { type: 'A', data: circular as never }]), /circular/);
        await expectRefused(() => store.appendToStream(newStream(), [event('Ok'), event('')]), /event type/);
        await expectRefused(() => store.appendToStream(newStream(), [event('Ok'), event('has space')]), /event type/);
        await expectRefused(() => store.appendToStream(newStream(), [event('Ok', {}, 'not-a-uuid')]), /uuid/);
        const id = randomUUID();
        await expectRefused(() => store.appendToStream(newStream(), [event('A', {}, id), event('B', {}, id)]), /twice/);
        await expectRefused(() => store.appendToStream(newStream(), [{ type: 'A', data: {}, metadata: [] as never }]), /metadata/);
      });

      it.each<[string, unknown]>([
        ['negative', -1n],
        ['beyond 64 bits', 2n ** 63n],
        ['a plain number', 1],
        ['a fraction', 1.5],
        ['an unknown word', 'latest'],
      ])('refuses an expected revision that is %s', async (_, expectedRevision) => {
        await expectRefused(() => store.appendToStream(newStream(), [event('A')], { expectedRevision: expectedRevision as never }), /expected revision/);
      });

      it('refuses bad read options', async () => {
        await expect(store.readStream('bad name')).rejects.toThrow(InvalidArgumentError);
        await expect(store.readStream(newStream(), { fromRevision: -1n })).rejects.toThrow(/fromRevision/);
        await expect(store.readStream(newStream(), { fromRevision: 2 as never })).rejects.toThrow(/fromRevision/);
        await expect(store.readStream(newStream(), { maxCount: 0 })).rejects.toThrow(/maxCount/);
        await expect(store.readAll({ maxCount: 2.5 })).rejects.toThrow(/maxCount/);
        await expect(store.readAll({ direction: 'sideways' as never })).rejects.toThrow(/direction/);
        await expect(store.readAll({ fromPosition: 'not a position' })).rejects.toThrow(InvalidArgumentError);
        await expect(store.readStream(newStream(), { fromRevision: 2n ** 64n })).rejects.toThrow(/fromRevision/);
        expect(() => store.subscribeToAll({ maxBatch: 0 }, () => undefined)).toThrow(/maxBatch/);
      });
    });

    it('leaves a log that verifies intact', async () => {
      const result = await verifyLog(store);
      expect(result.problem).toBeNull();
      expect(result.eventsChecked).toBeGreaterThan(20);
    });
  });
}
