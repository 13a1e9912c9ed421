import { randomUUID } from 'node:crypto';
import { DomainError } from '../../src/core/errors';
import { readState } from '../../src/core/read-state';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
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
});
