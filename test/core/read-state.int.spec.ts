import { randomUUID } from 'node:crypto';
import { DomainError } from '../../src/core/errors';
import { readState, StreamStates } from '../../src/core/read-state';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { ReadStreamOptions, RecordedEvent } from '../../src/eventstore/types';
import type { SqlDatabase } from '../../src/sql/database';
import { switchboard } from '../fixtures/switchboard.decider';
import { pglite } from '../support/databases';

describe('readState', () => {
  let db: SqlDatabase;
  let store: SqlEventStore;
  beforeAll(async () => {
    db = await pglite.open();
    store = await SqlEventStore.open(db);
  });
  afterAll(async () => {
    await db?.close();
  });

  const of = (tenantId: string) => ({ tenantId });
  const board = async (tenantId: string) => {
    const stream = `switchboard-${randomUUID()}`;
    await store.appendToStream(stream, [
      { type: 'SwitchboardInstalled', data: { name: 'main' }, metadata: of(tenantId) },
      { type: 'SwitchFlipped', data: { switchId: 'a', on: true }, metadata: of(tenantId) },
    ]);
    return stream;
  };

  it('folds the stream with the decider and says where it stands', async () => {
    const stream = await board('tenant-a');
    const read = await readState(store, switchboard, stream, 'tenant-a');
    expect(read.state).toEqual({ installed: true, switches: { a: true } });
    expect(read.revision).toBe(1n);
    expect(read.position).toBe((await store.readStream(stream)).at(-1)!.position);
  });

  it('reads a stream with no events as the initial state at revision -1', async () => {
    expect(await readState(store, switchboard, `switchboard-${randomUUID()}`, 'tenant-a')).toEqual({
      state: switchboard.initialState(),
      revision: -1n,
      position: null,
    });
  });

  it("refuses another tenant's stream as a missing one", async () => {
    const stream = await board('tenant-b');
    await expect(readState(store, switchboard, stream, 'tenant-a')).rejects.toEqual(new DomainError('NOT_FOUND', `no ${stream}`));
  });

  it('given a state read before, folds only what was appended since', async () => {
    const stream = await board('tenant-a');
    const before = await readState(store, switchboard, stream, 'tenant-a');
    await store.appendToStream(stream, [{ type: 'SwitchFlipped', data: { switchId: 'b', on: true }, metadata: of('tenant-a') }]);
    const after = await readState(store, switchboard, stream, 'tenant-a', { ...before, state: { installed: true, switches: {} } });
    expect(after.state).toEqual({ installed: true, switches: { b: true } });
    expect(after.revision).toBe(2n);
  });

  describe('StreamStates', () => {
    /** The store, with how many events each readStream of it gave. */
    const counted = (of: SqlEventStore) => {
      const reads: number[] = [];
      const counting: SqlEventStore = Object.create(of, {
        readStream: {
          value: async (stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> => {
            const events = await of.readStream(stream, options);
            reads.push(events.length);
            return events;
          },
        },
      });
      return { store: counting, reads };
    };
    const flip = (stream: string, switchId: string, tenantId = 'tenant-a') =>
      store.appendToStream(stream, [{ type: 'SwitchFlipped', data: { switchId, on: true }, metadata: of(tenantId) }]);

    it('reads again only the last event it folded and what came since, and folds as a whole read does', async () => {
      const stream = await board('tenant-a');
      const { store: counting, reads } = counted(store);
      const states = new StreamStates();
      expect(await states.read(counting, switchboard, stream, 'tenant-a')).toEqual(await readState(store, switchboard, stream, 'tenant-a'));
      for (const id of ['b', 'c', 'd']) await flip(stream, id);
      const read = await states.read(counting, switchboard, stream, 'tenant-a');
      expect(read).toEqual(await readState(store, switchboard, stream, 'tenant-a'));
      expect(read.state.switches).toEqual({ a: true, b: true, c: true, d: true });
      expect(await states.read(counting, switchboard, stream, 'tenant-a')).toEqual(read);
      // The whole stream once, then the last event folded and the three since, then that one again.
      expect(reads).toEqual([2, 4, 1]);
    });

    it('hands out states of its own: what a caller does with one does not change the next', async () => {
      const stream = await board('tenant-a');
      const states = new StreamStates();
      const first = await states.read(store, switchboard, stream, 'tenant-a');
      first.state.switches.z = true;
      first.state.installed = false;
      await flip(stream, 'b');
      expect((await states.read(store, switchboard, stream, 'tenant-a')).state).toEqual({ installed: true, switches: { a: true, b: true } });
    });

    it("refuses another tenant's stream it has folded for its own tenant, and the other tenant's events appended since", async () => {
      const stream = await board('tenant-a');
      const states = new StreamStates();
      await states.read(store, switchboard, stream, 'tenant-a');
      await expect(states.read(store, switchboard, stream, 'tenant-b')).rejects.toEqual(new DomainError('NOT_FOUND', `no ${stream}`));
      await flip(stream, 'b', 'tenant-b');
      await expect(states.read(store, switchboard, stream, 'tenant-a')).rejects.toEqual(new DomainError('NOT_FOUND', `no ${stream}`));
    });

    it('keeps at most its number of streams and bytes of states, the least recently read going first, and no state past a quarter of the bytes', async () => {
      const [first, second, third] = [await board('tenant-a'), await board('tenant-a'), await board('tenant-a')];
      const { store: counting, reads } = counted(store);
      const states = new StreamStates(2, 1_000_000);
      for (const stream of [first, second, first, third]) await states.read(counting, switchboard, stream, 'tenant-a');
      expect(states.size.streams).toBe(2);
      // first was read again after second: second went when third came. first and third are kept
      // (their last event read again), second is read whole.
      for (const stream of [first, third, second]) await states.read(counting, switchboard, stream, 'tenant-a');
      expect(reads).toEqual([2, 2, 1, 2, 1, 1, 2]);

      // By bytes: a board with many switches weighs more than a small one.
      const big = await board('tenant-a');
      for (let n = 0; n < 40; n++) await flip(big, `switch-number-${n}-${'x'.repeat(40)}`);
      const small = await board('tenant-a');
      const byBytes = counted(store);
      const weighed = new StreamStates(100, 12_000);
      await weighed.read(byBytes.store, switchboard, small, 'tenant-a');
      const smallBytes = weighed.size.bytes;
      await weighed.read(byBytes.store, switchboard, big, 'tenant-a');
      const bigBytes = weighed.size.bytes - smallBytes;
      expect(bigBytes).toBeGreaterThan(20 * smallBytes);
      expect(bigBytes).toBeLessThanOrEqual(12_000 / 4);
      // Under a budget of four big states, a fifth sends the least recently read away: read again, it is read whole.
      const bigs = [big];
      for (let b = 0; b < 4; b++) {
        const another = await board('tenant-a');
        for (let n = 0; n < 40; n++) await flip(another, `switch-number-${n}-${'x'.repeat(40)}`);
        bigs.push(another);
      }
      const tight = counted(store);
      const budget = new StreamStates(100, 4 * bigBytes);
      for (const stream of bigs) await budget.read(tight.store, switchboard, stream, 'tenant-a');
      expect(budget.size.streams).toBe(4);
      expect(budget.size.bytes).toBeLessThanOrEqual(4 * bigBytes);
      await budget.read(tight.store, switchboard, bigs[4], 'tenant-a');
      await budget.read(tight.store, switchboard, bigs[0], 'tenant-a');
      expect(tight.reads).toEqual([42, 42, 42, 42, 42, 1, 42]);
      // A state past a quarter of the budget is not kept at all, and is read whole each time.
      const none = counted(store);
      const tiny = new StreamStates(100, 4 * bigBytes - 4);
      await tiny.read(none.store, switchboard, big, 'tenant-a');
      await tiny.read(none.store, switchboard, big, 'tenant-a');
      expect(tiny.size).toEqual({ streams: 0, bytes: 0 });
      expect(none.reads).toEqual([42, 42]);
    });

    it('reads the whole stream when the event it folded last is no longer the one at its revision (another log)', async () => {
      const stream = await board('tenant-a');
      const states = new StreamStates();
      await states.read(store, switchboard, stream, 'tenant-a');
      // The same stream in another database: its events differ from the second on.
      const otherDb = await pglite.open();
      try {
        const other = await SqlEventStore.open(otherDb);
        await other.appendToStream(stream, [
          { type: 'SwitchboardInstalled', data: { name: 'main' }, metadata: of('tenant-a') },
          { type: 'SwitchFlipped', data: { switchId: 'x', on: true }, metadata: of('tenant-a') },
          { type: 'SwitchFlipped', data: { switchId: 'y', on: true }, metadata: of('tenant-a') },
        ]);
        const { store: counting, reads } = counted(other);
        const read = await states.read(counting, switchboard, stream, 'tenant-a');
        expect(read.state).toEqual({ installed: true, switches: { x: true, y: true } });
        expect(read.revision).toBe(2n);
        expect(reads).toEqual([2, 3]);
      } finally {
        await otherDb.close();
      }
    });
  });
});
