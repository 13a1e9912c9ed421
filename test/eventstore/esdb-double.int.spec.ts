import {
  AccessDeniedError,
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  jsonEvent,
  MaxAppendSizeExceededError,
  NotLeaderError,
  START,
  StreamDeletedError,
  TimeoutError,
  WrongExpectedVersionError,
  type AppendExpectedRevision,
  type EventData,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { randomUUID } from 'node:crypto';
import { EsdbDouble } from '../support/esdb-double/server';
import { realEsdb } from '../support/esdb-subject';
import { eventually } from '../support/eventually';

/**
 * What the test double of EventStoreDB does, through the official client, as EventStoreDB 23.10
 * does it (its IndexWriter.CheckCommit, gRPC append and delete). The cases that need no option of
 * the double run against a real server too when EVENTSTORE_CONNECTION_STRING names one, which
 * checks the double against EventStoreDB itself. Against the double they run through both appends
 * of the client: batch append (the double lists it to the features probe, as 23.10 does) and the
 * classic append (the double answers the probe UNIMPLEMENTED).
 */
describe.each(realEsdb ? [['the server as it is']] : [['23.10'], ['none']])(
  'the EventStoreDB test double, as EventStoreDB does it (server features: %s)',
  (features) => {
    let double: EsdbDouble | undefined;
    let client: EventStoreDBClient;

    beforeAll(async () => {
      double = realEsdb ? undefined : await EsdbDouble.start({ serverFeatures: features as '23.10' | 'none' });
      client = EventStoreDBClient.connectionString(realEsdb ?? double!.connectionString);
    });

    it('appends through batch append when the server lists it, through the classic append otherwise', async () => {
      await append(stream(), [event()], 'any');
      if (double) expect(double.calls.batchAppendCalls).toBe(features === '23.10' ? 1 : 0);
    });
    afterAll(async () => {
      await client.dispose();
      await double?.stop();
    });

    const stream = () => `double-${randomUUID()}`;
    const event = (id = randomUUID()) => jsonEvent({ id, type: 'Happened', data: { at: id } });
    const append = (name: string, events: EventData[], expectedRevision: AppendExpectedRevision) => client.appendToStream(name, events, { expectedRevision });
    const read = async (name: string): Promise<ResolvedEvent[]> => {
      const found: ResolvedEvent[] = [];
      for await (const resolved of client.readStream(name, { direction: FORWARDS, fromRevision: START })) found.push(resolved);
      return found;
    };
    const ids = async (name: string) => (await read(name)).map((resolved) => resolved.event!.id);
    const refusal = (work: Promise<unknown>) =>
      work.then(
        () => 'succeeded',
        (error: unknown) => error,
      );

    describe('an append sent again (idempotency)', () => {
      it('at the same exact revision or no_stream: succeeds without writing, answering the last event and its position', async () => {
        const name = stream();
        const batch = [event(), event()];
        const first = await append(name, batch, 'no_stream');
        expect(await append(name, batch, 'no_stream')).toEqual(first);
        await append(name, [event()], 1n);
        const later = [event(), event()];
        const once = await append(name, later, 2n);
        expect(await append(name, later, 2n)).toEqual(once);
        expect(await ids(name)).toHaveLength(5);
        expect(once.nextExpectedRevision).toBe(4n);
      });

      it('at an exact revision, with the first id not the one there: wrong expected version, nothing written', async () => {
        const name = stream();
        const batch = [event(), event()];
        await append(name, batch, 'no_stream');
        const error = await refusal(append(name, [event(), batch[1]], 'no_stream'));
        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        expect(error).toMatchObject({ actualVersion: 1n });
        expect(await ids(name)).toEqual(batch.map((e) => e.id));
      });

      it('at an exact revision, with a later id not the one there (a corrupted retry): wrong expected version', async () => {
        const name = stream();
        const batch = [event(), event()];
        await append(name, batch, 'no_stream');
        await expect(append(name, [batch[0], event()], 'no_stream')).rejects.toBeInstanceOf(WrongExpectedVersionError);
        await expect(append(name, [batch[0], batch[1], event()], 'no_stream')).rejects.toBeInstanceOf(WrongExpectedVersionError);
        expect(await ids(name)).toHaveLength(2);
      });

      it('with any: ids all committed in this stream are a retry; a first id unknown, or in another stream, is written again', async () => {
        const name = stream();
        const batch = [event(), event()];
        const first = await append(name, batch, 'any');
        await append(name, [event()], 'any');
        // Not at the end any more, and still recognised: EventStoreDB looks the ids up, not the end.
        expect(await append(name, batch, 'any')).toMatchObject({ nextExpectedRevision: first.nextExpectedRevision });
        expect(await ids(name)).toHaveLength(3);

        const other = stream();
        await append(other, [batch[0]], 'any');
        expect(await ids(other)).toEqual([batch[0].id]);

        const fresh = event();
        await append(name, [fresh, batch[0]], 'any');
        expect(await ids(name)).toEqual([...batch.map((e) => e.id), expect.any(String), fresh.id, batch[0].id]);
      });

      it('with any, a first id committed here and a later one not: wrong expected version, nothing written', async () => {
        const name = stream();
        const batch = [event()];
        await append(name, batch, 'any');
        await expect(append(name, [batch[0], event()], 'any')).rejects.toBeInstanceOf(WrongExpectedVersionError);
        expect(await ids(name)).toHaveLength(1);
      });

      it('above the last revision, or stream_exists on no stream: wrong expected version', async () => {
        const name = stream();
        await expect(append(name, [event()], 'stream_exists')).rejects.toMatchObject({ actualVersion: 'no_stream' });
        await append(name, [event()], 'no_stream');
        await expect(append(name, [event()], 3n)).rejects.toMatchObject({ expectedVersion: 3n, actualVersion: 0n });
      });
    });

    describe('positions', () => {
      it('gives each event of an append its own commit position, equal to its prepare position, and answers with the last', async () => {
        const name = stream();
        const result = await append(name, [event(), event(), event()], 'no_stream');
        const events = (await read(name)).map((resolved) => resolved.event!.position!);
        for (const position of events) expect(position.commit).toBe(position.prepare);
        expect(new Set(events.map((p) => p.commit)).size).toBe(3);
        expect(events[0].commit < events[1].commit && events[1].commit < events[2].commit).toBe(true);
        expect(result.position).toEqual(events[2]);
      });

      it("reads $all backwards from an event's position keeping the record before it, and from a page start (C, 0) leaving it out", async () => {
        const name = stream();
        await append(stream(), [event()], 'no_stream');
        await append(name, [event(), event()], 'no_stream');
        const [first, second] = (await read(name)).map((resolved) => resolved.event!.position!);
        const backwardsFrom = (fromPosition: { commit: bigint; prepare: bigint }) =>
          collect(client.readAll({ fromPosition, direction: BACKWARDS, maxCount: 1 })).then((found) => found.map((resolved) => resolved.event!.position!));
        expect(await backwardsFrom(second)).toEqual([first]);
        // The record before C ends at C: (C, C) is past (C, 0).
        const fromPageStart = await backwardsFrom({ commit: second.commit, prepare: 0n });
        expect(fromPageStart).toHaveLength(1);
        expect(fromPageStart[0].commit < first.commit).toBe(true);
      });
    });

    describe('deletes', () => {
      it('soft delete: $tb of 2^63-1 in the metadata stream, the stream reads as not found, its events stay in $all', async () => {
        const name = stream();
        const { position } = await append(name, [event(), event()], 'no_stream');
        await client.deleteStream(name);
        expect(await ids(name).catch((e: unknown) => e)).toMatchObject({ type: 'stream-not-found' });
        const [metadata] = await collect(client.readStream(`$$${name}`, { direction: BACKWARDS, fromRevision: END, maxCount: 1 }));
        expect(metadata.event?.type).toBe('$metadata');
        // JSON numbers are doubles to the client: 2^63-1 reads as 2^63.
        expect((await client.getStreamMetadata(name)).metadata?.truncateBefore).toBe(Number(2n ** 63n - 1n));
        const inAll = await collect(client.readAll({ fromPosition: { commit: position!.commit, prepare: position!.prepare }, maxCount: 1 }));
        expect(inAll[0].event?.streamId).toBe(name);
      });

      it('soft delete then a write at the true last revision: revisions go on, $tb hides the older events', async () => {
        const name = stream();
        await append(name, [event(), event()], 'no_stream');
        await client.deleteStream(name);
        const fresh = event();
        await expect(append(name, [fresh], 1n)).resolves.toMatchObject({ nextExpectedRevision: 2n });
        expect((await read(name)).map((resolved) => [resolved.event!.id, resolved.event!.revision])).toEqual([[fresh.id, 2n]]);
        const { metadata } = await client.getStreamMetadata(name);
        expect(metadata?.truncateBefore).toBe(2);
      });

      it('soft delete then no_stream: written after the deleted events, not from 0; stream_exists is refused as deleted', async () => {
        const name = stream();
        await append(name, [event(), event()], 'no_stream');
        await client.deleteStream(name);
        await expect(append(name, [event()], 'stream_exists')).rejects.toBeInstanceOf(StreamDeletedError);
        await expect(append(name, [event()], 'no_stream')).resolves.toMatchObject({ nextExpectedRevision: 2n });
      });

      it('tombstone: a $streamDeleted record at revision 2^63-1 in $all; reading, writing and tombstoning again are refused', async () => {
        const name = stream();
        const { position } = await append(name, [event()], 'no_stream');
        await client.tombstoneStream(name);
        const after = await collect(client.readAll({ fromPosition: { commit: position!.commit, prepare: position!.prepare }, maxCount: 10 }));
        const tombstone = after.find((resolved) => resolved.event?.streamId === name && resolved.event.type === '$streamDeleted');
        expect(tombstone?.event?.revision).toBe(2n ** 63n - 1n);
        await expect(read(name)).rejects.toBeInstanceOf(StreamDeletedError);
        await expect(append(name, [event()], 'any')).rejects.toBeInstanceOf(StreamDeletedError);
        await expect(client.tombstoneStream(name)).rejects.toBeInstanceOf(StreamDeletedError);
      });
    });

    it('refuses an append whose event data passes 1 MiB, before writing any of it; metadata does not count', async () => {
      const name = stream();
      const half = 'x'.repeat(512 * 1024);
      const big = (text: string) => jsonEvent({ type: 'Big', data: { text } });
      const error = await refusal(append(name, [big(half), big(half)], 'any'));
      expect(error).toBeInstanceOf(MaxAppendSizeExceededError);
      expect(error).toMatchObject({ maxAppendSize: 1024 * 1024 });
      expect(await ids(name).catch(() => [])).toEqual([]);
      // As EventStoreDB 23.10 weighs it (data alone), this passes with metadata of the same size.
      const withMetadata = jsonEvent({ type: 'Big', data: { text: 'x'.repeat(1000 * 1024) }, metadata: { text: half } });
      await expect(append(name, [withMetadata], 'any')).resolves.toMatchObject({ nextExpectedRevision: 0n });
    });
  },
);

const describeWithDouble = realEsdb ? describe.skip : describe;

describeWithDouble('the EventStoreDB test double, when told (its options)', () => {
  it('counts calls, and the reads that require the leader', async () => {
    const double = await EsdbDouble.start();
    const client = EventStoreDBClient.connectionString(double.connectionString);
    try {
      await client.appendToStream('counted-1', jsonEvent({ type: 'A', data: {} }));
      await collect(client.readStream('counted-1', { requiresLeader: true }));
      await collect(client.readStream('counted-1'));
      expect(double.calls).toMatchObject({ append: 1, read: 2, readsRequiringLeader: 1 });
    } finally {
      await client.dispose();
      await double.stop();
    }
  });

  it.each([
    ['drop', 'ends it with Aborted "Consumer too slow" (23.10)'],
    ['fall-behind', 'says it fell behind, then caught up once it is taken from again (24.x)'],
  ] as const)('slowConsumers %s: a live subscriber that takes nothing while 32 events and more wait, the double %s', async (mode, _what) => {
    const double = await EsdbDouble.start({ slowConsumers: mode });
    const client = EventStoreDBClient.connectionString(double.connectionString);
    try {
      const subscription = client.subscribeToAll({ fromPosition: END }, { highWaterMark: 1 });
      const seen = { caughtUp: 0, fellBehind: 0, error: undefined as unknown };
      subscription.on('caughtUp', () => (seen.caughtUp += 1));
      subscription.on('fellBehind', () => (seen.fellBehind += 1));
      subscription.on('error', (error) => (seen.error = error));
      subscription.pause();
      await eventually(() => expect(double.subscriptionCount).toBe(1));
      const text = 'x'.repeat(1000);
      for (let n = 0; n < 30 && double.calls.slowConsumers === 0; n++) {
        await client.appendToStream(
          `live-${n}`,
          Array.from({ length: 100 }, (_, i) => jsonEvent({ type: 'Live', data: { i, text } })),
        );
      }
      expect(double.calls.slowConsumers).toBe(1);
      if (mode === 'drop') {
        subscription.resume();
        await eventually(() => expect(seen.error).toBeInstanceOf(TimeoutError));
        expect((seen.error as Error).message).toMatch(/Consumer too slow to handle event while live/);
      } else {
        subscription.on('data', () => undefined);
        subscription.resume();
        await eventually(() => expect(seen).toMatchObject({ caughtUp: 2, fellBehind: 1, error: undefined }));
        await subscription.unsubscribe();
      }
    } finally {
      await client.dispose();
      await double.stop();
    }
  });

  it('a follower: reads see the log records behind; writes and reads that require the leader are refused, naming it', async () => {
    const leader = await EsdbDouble.start();
    const follower = await leader.startFollower(1);
    const client = EventStoreDBClient.connectionString(leader.connectionString);
    const onFollower = EventStoreDBClient.connectionString(follower.connectionString);
    try {
      await client.appendToStream('followed-1', [jsonEvent({ type: 'A', data: {} }), jsonEvent({ type: 'B', data: {} })]);
      expect((await collect(onFollower.readStream('followed-1'))).map((r) => r.event?.type)).toEqual(['A']);
      expect((await collect(onFollower.readAll())).map((r) => r.event?.type)).toEqual(['A']);
      expect((await collect(client.readAll())).map((r) => r.event?.type)).toEqual(['A', 'B']);
      const refused = await collect(onFollower.readStream('followed-1', { requiresLeader: true })).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(NotLeaderError);
      expect(refused).toMatchObject({ leader: { address: '127.0.0.1', port: Number(new URL(leader.connectionString.replace('esdb', 'http')).port) } });
      // After NotLeader the client turns to the leader, as EventStoreDB's client does: a new one asks the follower again.
      const again = EventStoreDBClient.connectionString(follower.connectionString);
      try {
        await expect(again.appendToStream('followed-2', jsonEvent({ type: 'C', data: {} }))).rejects.toBeInstanceOf(NotLeaderError);
      } finally {
        await again.dispose();
      }
      expect(leader.log.all).toHaveLength(2);
    } finally {
      await client.dispose();
      await onFollower.dispose();
      await follower.stop();
      await leader.stop();
    }
  });

  it('a smaller maximum append size, with the server error naming it', async () => {
    const double = await EsdbDouble.start({ maxAppendSize: 100 });
    const client = EventStoreDBClient.connectionString(double.connectionString);
    try {
      const error = await client.appendToStream('small-1', jsonEvent({ type: 'A', data: { text: 'x'.repeat(200) } })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MaxAppendSizeExceededError);
      expect(error).toMatchObject({ maxAppendSize: 100 });
      expect(double.log.all).toEqual([]);
    } finally {
      await client.dispose();
      await double.stop();
    }
  });

  it('with access control, $all is refused to all but admins; over tls=false the client sends no user, so every call is anonymous', async () => {
    const double = await EsdbDouble.start({ users: { admin: { password: 'changeit', admin: true } } });
    const client = EventStoreDBClient.connectionString(double.connectionString.replace('esdb://', 'esdb://admin:changeit@'));
    try {
      await client.appendToStream('open-1', jsonEvent({ type: 'A', data: {} }));
      expect(await collect(client.readStream('open-1'))).toHaveLength(1);
      await expect(collect(client.readAll({ maxCount: 1 }))).rejects.toBeInstanceOf(AccessDeniedError);
    } finally {
      await client.dispose();
      await double.stop();
    }
  });

  it('as a follower, refuses writes and reads that require the leader with NotLeader naming it; other reads are served', async () => {
    const double = await EsdbDouble.start({ leader: { host: '127.0.0.1', port: 1 } });
    const client = EventStoreDBClient.connectionString(double.connectionString);
    try {
      const error = await client.appendToStream('led-1', jsonEvent({ type: 'A', data: {} })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotLeaderError);
      expect(error).toMatchObject({ leader: { address: '127.0.0.1', port: 1 } });
      expect(double.log.all).toEqual([]);
    } finally {
      await client.dispose();
      await double.stop();
    }
    const again = EventStoreDBClient.connectionString(double.connectionString);
    await double.restart();
    try {
      await expect(collect(again.readAll({ maxCount: 1 }))).resolves.toEqual([]);
      await expect(collect(again.readStream('led-1', { requiresLeader: true }))).rejects.toBeInstanceOf(NotLeaderError);
    } finally {
      await again.dispose();
      await double.stop();
    }
  });
});

async function collect(read: AsyncIterable<ResolvedEvent>): Promise<ResolvedEvent[]> {
  const found: ResolvedEvent[] = [];
  for await (const resolved of read) found.push(resolved);
  return found;
}
