import { randomUUID } from 'node:crypto';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store';
import {
  AppendTooLargeError,
  DuplicateEventIdError,
  EventStoreAccessDeniedError,
  EventStoreUnavailableError,
  WrongExpectedVersionError,
} from '../../src/eventstore/errors';
import type { EventData } from '../../src/eventstore/types';
import { verifyLog } from '../../src/eventstore/verify';
import { EsdbDouble } from '../support/esdb-double/server';
import { realEsdb } from '../support/esdb-subject';
import { eventually } from '../support/eventually';

/** Counting the server's calls, and the server's options, take the test double. */
const describeWithDouble = realEsdb ? describe.skip : describe;

const stream = () => `thing-${randomUUID()}`;
const event = (type: string, id?: string): EventData => ({ ...(id ? { id } : {}), type, data: { type } });

describeWithDouble('EventStoreDB adapter: appends (against the test double)', () => {
  let double: EsdbDouble;
  let store: EsdbEventStore;

  beforeEach(async () => {
    double = await EsdbDouble.start();
    store = EsdbEventStore.connect(double.connectionString);
  });
  afterEach(async () => {
    await store.close();
    await double.stop();
  });

  /** The server calls `work` makes. */
  async function callsOf(work: () => Promise<unknown>) {
    const before = { ...double.calls };
    await work();
    return {
      append: double.calls.append - before.append,
      read: double.calls.read - before.read,
      fromLeader: double.calls.readsRequiringLeader - before.readsRequiringLeader,
    };
  }

  it('a new stream, and a stream whose end it knows (from its appends or a read), take one write and no read', async () => {
    const name = stream();
    expect(await callsOf(() => store.appendToStream(name, [event('Created')], { expectedRevision: 'no_stream' }))).toEqual({
      append: 1,
      read: 0,
      fromLeader: 0,
    });
    expect(await callsOf(() => store.appendToStream(name, [event('Changed')], { expectedRevision: 0n }))).toEqual({ append: 1, read: 0, fromLeader: 0 });
    expect(await callsOf(() => store.appendToStream(name, [event('Changed')]))).toEqual({ append: 1, read: 0, fromLeader: 0 });

    // Another process folds the stream, as the command handler does, then appends.
    const other = EsdbEventStore.connect(double.connectionString);
    try {
      const events = await other.readStream(name);
      const outcome = await callsOf(() => other.appendToStream(name, [event('Changed')], { expectedRevision: events[events.length - 1].revision }));
      expect(outcome).toEqual({ append: 1, read: 0, fromLeader: 0 });
    } finally {
      await other.close();
    }
    expect((await verifyLog(store)).problem).toBeNull();
  });

  it('a stream whose end it does not know: its end read once, from the leader, then one write', async () => {
    const name = stream();
    await store.appendToStream(name, [event('Created')]);
    const other = EsdbEventStore.connect(double.connectionString);
    try {
      expect(await callsOf(() => other.appendToStream(name, [event('Changed')], { expectedRevision: 0n }))).toEqual({ append: 1, read: 1, fromLeader: 1 });
      expect(await callsOf(() => other.appendToStream(name, [event('Changed')]))).toEqual({ append: 1, read: 0, fromLeader: 0 });
    } finally {
      await other.close();
    }
    expect((await verifyLog(store)).problem).toBeNull();
  });

  it('an end it knows that another writer moved: exact revisions are refused with the true one; any reads the end and writes there', async () => {
    const name = stream();
    await store.appendToStream(name, [event('Created')]);
    const other = EsdbEventStore.connect(double.connectionString);
    try {
      await other.appendToStream(name, [event('Elsewhere')], { expectedRevision: 0n });
    } finally {
      await other.close();
    }
    await expect(store.appendToStream(name, [event('Stale')], { expectedRevision: 0n })).rejects.toMatchObject({ actual: 1n });
    await expect(store.appendToStream(name, [event('Stale')], { expectedRevision: 0n })).rejects.toBeInstanceOf(WrongExpectedVersionError);
    let after: unknown;
    expect(
      await callsOf(async () => {
        after = await store.appendToStream(name, [event('Moved')]);
      }),
    ).toEqual({ append: 1, read: 1, fromLeader: 1 });
    expect(after).toMatchObject({ nextExpectedRevision: 2n });
    expect((await store.readStream(name)).map((e) => e.type)).toEqual(['Created', 'Elsewhere', 'Moved']);
    expect((await verifyLog(store)).problem).toBeNull();
  });

  it('a retry whose first answer was lost is answered by the server, as the first outcome, and read back once without writing', async () => {
    const name = stream();
    await store.appendToStream(name, [event('Created')]);
    const batch = [event('Once', randomUUID()), event('Twice', randomUUID())];
    // The first attempt went through another connection and its answer never came back here.
    const other = EsdbEventStore.connect(double.connectionString);
    let first: Awaited<ReturnType<EsdbEventStore['appendToStream']>>;
    try {
      first = await other.appendToStream(name, batch, { expectedRevision: 0n });
    } finally {
      await other.close();
    }
    let again: unknown;
    expect(
      await callsOf(async () => {
        again = await store.appendToStream(name, batch, { expectedRevision: 0n });
      }),
      // The server answers a retry as a new write: with ids the caller named, the events stored are read back.
    ).toEqual({ append: 1, read: 1, fromLeader: 1 });
    expect(again).toEqual(first);
    expect((await store.readStream(name)).map((e) => e.type)).toEqual(['Created', 'Once', 'Twice']);
  });

  it('ids the caller named: the events stored in their place are read back once, from the leader; ids drawn by the adapter take one write alone', async () => {
    const name = stream();
    expect(await callsOf(() => store.appendToStream(name, [event('Created', randomUUID())], { expectedRevision: 'no_stream' }))).toEqual({
      append: 1,
      read: 1,
      fromLeader: 1,
    });
    expect(await callsOf(() => store.appendToStream(name, [event('Changed', randomUUID()), event('Changed', randomUUID())]))).toEqual({
      append: 1,
      read: 1,
      fromLeader: 1,
    });
    expect(await callsOf(() => store.appendToStream(name, [event('Changed')], { expectedRevision: 2n }))).toEqual({ append: 1, read: 0, fromLeader: 0 });
    // Ids the caller drew for this append alone (as the command handler does): one write, no read back.
    expect(await callsOf(() => store.appendToStream(name, [event('Changed', randomUUID())], { expectedRevision: 3n, freshIds: true }))).toEqual({
      append: 1,
      read: 0,
      fromLeader: 0,
    });
    expect((await verifyLog(store)).problem).toBeNull();
  });

  it('a retry under the same ids with other content, from a process that did not write the first: DUPLICATE_EVENT_ID, and the chain stays whole', async () => {
    const name = stream();
    const id = randomUUID();
    const first = { id, type: 'A', data: { n: 1 }, metadata: { correlationId: 'first' } };
    await store.appendToStream(name, [first], { expectedRevision: 'no_stream' });
    const other = EsdbEventStore.connect(double.connectionString);
    try {
      const changed = await other
        .appendToStream(name, [{ ...first, metadata: { correlationId: 'second' } }], { expectedRevision: 'no_stream' })
        .catch((e) => e);
      expect(changed).toBeInstanceOf(DuplicateEventIdError);
      expect(changed).toMatchObject({ code: 'DUPLICATE_EVENT_ID', eventIds: [id] });
      // The same content again is the retry it looks like.
      expect(await other.appendToStream(name, [first], { expectedRevision: 'no_stream' })).toMatchObject({ nextExpectedRevision: 0n });
      await other.appendToStream(name, [event('B')], { expectedRevision: 0n });
    } finally {
      await other.close();
    }
    const events = await store.readStream(name);
    expect(events.map((e) => [e.type, e.metadata.correlationId])).toEqual([
      ['A', 'first'],
      ['B', undefined],
    ]);
    expect((await verifyLog(store)).problem).toBeNull();
  });

  it('a retry under the same ids with other content, recognised from the end it knows: DUPLICATE_EVENT_ID, nothing written', async () => {
    const name = stream();
    const id = randomUUID();
    await store.appendToStream(name, [{ id, type: 'A', data: { n: 1 } }]);
    const changed = await callsOf(async () => {
      const error = await store.appendToStream(name, [{ id, type: 'A', data: { n: 2 } }]).catch((e) => e);
      expect(error).toBeInstanceOf(DuplicateEventIdError);
    });
    expect(changed).toEqual({ append: 0, read: 0, fromLeader: 0 });
    expect(await store.appendToStream(name, [{ id, type: 'A', data: { n: 1 } }])).toMatchObject({ nextExpectedRevision: 0n });
    expect((await store.readStream(name)).map((e) => e.data)).toEqual([{ n: 1 }]);
  });

  it('answers with the position of its last event, as the server gave it, without reading it back', async () => {
    const name = stream();
    const result = await store.appendToStream(name, [event('A'), event('B'), event('C')]);
    const events = await store.readStream(name);
    expect(result.position).toBe(events[2].position);
    expect(store.comparePositions(events[1].position, events[2].position)).toBeLessThan(0);
  });

  it('leaves out the $streamDeleted record of a hard delete, and other system events, from reads and subscriptions of $all', async () => {
    const name = stream();
    await store.appendToStream(name, [event('A')]);
    const { EventStoreDBClient } = await import('@eventstore/db-client');
    const raw = EventStoreDBClient.connectionString(double.connectionString);
    try {
      await raw.tombstoneStream(name);
      await raw.setStreamMetadata(`other-${randomUUID()}`, { maxCount: 5 });
    } finally {
      await raw.dispose();
    }
    expect(double.log.all.some((e) => e.type === '$streamDeleted')).toBe(true);
    const marker = await store.appendToStream(stream(), [event('Marker')]);
    expect((await store.readAll()).map((e) => e.type)).toEqual(['A', 'Marker']);
    expect(await store.countEvents()).toBe(2);
    const seen: string[] = [];
    const subscription = store.subscribeToAll({ fromPosition: 'start' }, (batch) => {
      seen.push(...batch.events.map((e) => e.type));
    });
    await eventually(() => expect(seen).toEqual(['A', 'Marker']));
    await subscription.stop();
    expect(await store.headPosition()).toBe(marker.position);
    expect((await verifyLog(store)).problem).toBeNull();
  });

  it("puts the writer's correlation and causation ids where EventStoreDB's tools look for them", async () => {
    const name = stream();
    const metadata = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'someone' };
    await store.appendToStream(name, [{ type: 'A', data: {}, metadata }]);
    const [recorded] = double.log.all.filter((e) => e.stream === name);
    expect(JSON.parse(Buffer.from(recorded.customMetadata).toString('utf8'))).toMatchObject({
      $correlationId: metadata.correlationId,
      $causationId: metadata.causationId,
      metadata,
    });
    expect((await store.readStream(name))[0].metadata).toEqual(metadata);
  });

  it('refuses an append over the maximum append size before sending anything, with a typed error that says what to do', async () => {
    const name = stream();
    const half: EventData = { type: 'Big', data: { text: 'x'.repeat(512 * 1024) } };
    let error: unknown;
    expect(
      await callsOf(async () => {
        error = await store.appendToStream(name, [half, half]).catch((e: unknown) => e);
      }),
    ).toEqual({ append: 0, read: 0, fromLeader: 0 });
    expect(error).toBeInstanceOf(AppendTooLargeError);
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', stream: name, maxAppendSize: 1024 * 1024 });
    expect((error as Error).message).toMatch(/append fewer or smaller events/);
    expect(await store.readStream(name)).toEqual([]);
  });
});

describeWithDouble('EventStoreDB adapter: what a server refuses (against the test double)', () => {
  it('an append over a server limit smaller than the one the adapter knows: the typed error, nothing written', async () => {
    const double = await EsdbDouble.start({ maxAppendSize: 100 });
    const store = EsdbEventStore.connect(double.connectionString);
    try {
      const name = stream();
      const error = await store.appendToStream(name, [{ type: 'Big', data: { text: 'x'.repeat(200) } }]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppendTooLargeError);
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT', stream: name, maxAppendSize: 100 });
      expect(double.log.all).toEqual([]);
    } finally {
      await store.close();
      await double.stop();
    }
  });

  it('a user that may not read $all: EVENT_STORE_ACCESS_DENIED saying what to grant, never the password', async () => {
    const password = 'not-to-be-shown';
    const double = await EsdbDouble.start({ users: { admin: { password, admin: true } } });
    // Over tls=false the client sends no credentials: the server sees an anonymous caller.
    const store = EsdbEventStore.connect(double.connectionString.replace('esdb://', `esdb://admin:${password}@`));
    try {
      await store.appendToStream(stream(), [event('A')]);
      const failures = [
        await store.readAll().catch((e: unknown) => e),
        await store.headPosition().catch((e: unknown) => e),
        await store.subscribeToAll({ fromPosition: 'start' }, () => undefined).done.catch((e: unknown) => e),
      ];
      for (const failure of failures) {
        expect(failure).toBeInstanceOf(EventStoreAccessDeniedError);
        expect(failure).toMatchObject({ code: 'EVENT_STORE_ACCESS_DENIED' });
        expect((failure as Error).message).toMatch(/\$admins/);
        expect((failure as Error).message).toMatch(/tls=false/);
        expect((failure as Error).message).not.toContain(password);
      }
    } finally {
      await store.close();
      await double.stop();
    }
  });

  it('a stream read on a lagging follower leaves a stale end: the append costs a refusal and a read from the leader, never the chain', async () => {
    const leader = await EsdbDouble.start();
    const follower = await leader.startFollower(1);
    const writer = EsdbEventStore.connect(leader.connectionString);
    const onFollower = EsdbEventStore.connect(follower.connectionString);
    try {
      const name = stream();
      await writer.appendToStream(name, [event('A')]);
      await writer.appendToStream(name, [event('B')], { expectedRevision: 0n });
      expect((await onFollower.readStream(name)).map((e) => e.type)).toEqual(['A']);
      // The follower refuses the write and names the leader; the client goes there for the next call.
      await expect(onFollower.appendToStream(name, [event('C')])).rejects.toBeInstanceOf(EventStoreUnavailableError);
      await expect(onFollower.appendToStream(name, [event('C')])).resolves.toMatchObject({ nextExpectedRevision: 2n });
      expect((await writer.readStream(name)).map((e) => e.type)).toEqual(['A', 'B', 'C']);
      expect((await verifyLog(writer)).problem).toBeNull();
    } finally {
      await writer.close();
      await onFollower.close();
      await follower.stop();
      await leader.stop();
    }
  });

  it('a write to a node that is not the leader: EVENT_STORE_UNAVAILABLE saying the client moves to the leader, nothing written', async () => {
    const double = await EsdbDouble.start({ leader: { host: '127.0.0.1', port: 1 } });
    const store = EsdbEventStore.connect(double.connectionString);
    try {
      const error = await store.appendToStream(stream(), [event('A')], { expectedRevision: 'no_stream' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EventStoreUnavailableError);
      expect((error as Error).message).toMatch(/not the cluster's leader/);
      expect(double.log.all).toEqual([]);
    } finally {
      await store.close();
      await double.stop();
    }
  });
  it("with a user in the connection string, appends go through batch append: the user is the client's default, not sent per call", async () => {
    const double = await EsdbDouble.start();
    const store = EsdbEventStore.connect(double.connectionString.replace('esdb://', 'esdb://admin:changeit@'));
    try {
      const name = stream();
      for (const type of ['A', 'B', 'C']) await store.appendToStream(name, [event(type)]);
      // One batch-append stream carries them all; per-call credentials would make each a classic append.
      expect(double.calls.batchAppendCalls).toBe(1);
      expect(double.calls.append).toBe(3);
      expect((await store.readStream(name)).map((e) => e.type)).toEqual(['A', 'B', 'C']);
    } finally {
      await store.close();
      await double.stop();
    }
  });

  it('a connection string naming a CA file that cannot be read: INVALID_ARGUMENT naming the option, never the password', () => {
    const password = 'pw-that-must-not-leak';
    const error = (() => {
      try {
        EsdbEventStore.connect(`esdb://admin:${password}@127.0.0.1:1?tls=true&tlsCAFile=/nonexistent/ca.crt`);
      } catch (caught) {
        return caught as Error;
      }
    })();
    expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(error?.message).toContain('tlsCAFile');
    expect(error?.message).not.toContain(password);
  });
});
