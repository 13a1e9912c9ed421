import { randomUUID } from 'node:crypto';
import { CommandHandler } from '../../src/core/command-handler';
import { ConcurrencyError, DomainError } from '../../src/core/errors';
import type { CommandContext } from '../../src/core/metadata';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { AppendOptions, EventData, EventStore } from '../../src/eventstore/types';
import type { SqlDatabase } from '../../src/sql/database';
import { switchboard, type SwitchboardCommand, type SwitchboardState } from '../fixtures/switchboard.decider';
import { dropTestSchemas, testDatabases } from '../support/databases';

afterAll(dropTestSchemas);

const context: CommandContext = {
  tenantId: 'tenant-a',
  actor: { kind: 'api-token', id: 'token-1', name: 'ci robot' },
  correlationId: 'request-7',
  now: () => new Date('2026-11-22T10:00:00.000Z'),
};

for (const database of testDatabases) {
  describe(`command handler on ${database.name}`, () => {
    let db: SqlDatabase;
    let store: SqlEventStore;
    let handler: CommandHandler;
    beforeAll(async () => {
      db = await database.open();
      store = await SqlEventStore.open(db);
      handler = new CommandHandler(store, { maxAttempts: 3 });
    });
    afterAll(async () => {
      await db?.close();
    });

    const newBoard = () => `switchboard-${randomUUID()}`;
    const install = (stream: string) => handler.handle(switchboard, stream, { type: 'InstallSwitchboard', data: { name: 'main' } }, context);

    /**
     * A handler whose first `times` appends find that another writer got there first: the real
     * store, with a concurrent append landing just before each of them.
     */
    function contended(times: number) {
      let intrusions = 0;
      const counting = {
        ...switchboard,
        calls: 0,
        decide(command: SwitchboardCommand, state: SwitchboardState) {
          counting.calls += 1;
          return switchboard.decide(command, state);
        },
      };
      const racedStore: EventStore = Object.create(store, {
        appendToStream: {
          value: async (stream: string, events: EventData[], options?: AppendOptions) => {
            if (intrusions < times) {
              intrusions += 1;
              await store.appendToStream(stream, [
                { type: 'SwitchFlipped', data: { switchId: `other-${intrusions}`, on: true }, metadata: { tenantId: context.tenantId } },
              ]);
            }
            return store.appendToStream(stream, events, options);
          },
        },
      });
      return { decider: counting, handler: new CommandHandler(racedStore, { maxAttempts: 3 }) };
    }

    it('loads, decides and appends with metadata from the context, never from the command', async () => {
      const stream = newBoard();
      const result = await install(stream);
      expect(result).toMatchObject({ revision: 0n, state: { installed: true }, events: [{ type: 'SwitchboardInstalled' }] });
      const [recorded] = await store.readStream(stream);
      expect(recorded.position).toBe(result.position);
      expect(result.eventIds).toEqual([recorded.id]);
      expect(recorded.metadata).toEqual({
        tenantId: 'tenant-a',
        actor: { kind: 'api-token', id: 'token-1', name: 'ci robot' },
        correlationId: 'request-7',
        causationId: 'request-7',
        occurredAt: '2026-11-22T10:00:00.000Z',
      });

      const flip = await handler.handle(
        switchboard,
        stream,
        { type: 'FlipSwitch', data: { switchId: 's1', on: true } },
        { ...context, causationId: 'command-9' },
      );
      expect(flip.revision).toBe(1n);
      expect((await store.readStream(stream))[1].metadata).toMatchObject({ correlationId: 'request-7', causationId: 'command-9' });
    });

    it('records only the kind, id, name and role of the actor, whatever else the object carries', async () => {
      const stream = newBoard();
      const actor = { kind: 'user' as const, id: 'u-1', name: 'Ann', role: 'OPERATOR', sessionToken: 'must-not-be-recorded' };
      await handler.handle(switchboard, stream, { type: 'InstallSwitchboard', data: { name: 'main' } }, { ...context, actor });
      const [recorded] = await store.readStream(stream);
      expect(recorded.metadata.actor).toEqual({ kind: 'user', id: 'u-1', name: 'Ann', role: 'OPERATOR' });
      expect(JSON.stringify([recorded.data, recorded.metadata])).not.toContain('must-not-be-recorded');
    });

    it('writes nothing when the decision is empty or refused', async () => {
      const stream = newBoard();
      await install(stream);
      const unchanged = await handler.handle(switchboard, stream, { type: 'FlipSwitch', data: { switchId: 's1', on: false } }, context);
      expect(unchanged).toEqual({ events: [], eventIds: [], state: { installed: true, switches: {} }, revision: 0n, position: null });
      await expect(install(stream)).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(install(stream)).rejects.toBeInstanceOf(DomainError);
      expect(await store.readStream(stream)).toHaveLength(1);
    });

    it("refuses a command on another tenant's stream as on a missing one, and writes nothing", async () => {
      const stream = newBoard();
      await install(stream);
      const flip = { type: 'FlipSwitch', data: { switchId: 's1', on: true } } as const;
      await expect(handler.handle(switchboard, stream, flip, { ...context, tenantId: 'tenant-b' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(handler.handle(switchboard, stream, flip, { ...context, tenantId: 'tenant-b' }, { expectedRevision: 0n })).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
      expect(await store.readStream(stream)).toHaveLength(1);
    });

    it('retries against a concurrent writer, deciding again on the fresh state', async () => {
      const stream = newBoard();
      await install(stream);
      const { decider: racing, handler: raced } = contended(1);
      const result = await raced.handle(racing, stream, { type: 'FlipSwitch', data: { switchId: 's1', on: true } }, context);
      expect(racing.calls).toBe(2);
      expect(result.revision).toBe(2n);
      expect(result.state.switches).toEqual({ 'other-1': true, s1: true });
      expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['SwitchboardInstalled', 'SwitchFlipped', 'SwitchFlipped']);
    });

    it('gives up with CONFLICT after a bounded number of attempts', async () => {
      const stream = newBoard();
      await install(stream);
      const { decider: racing, handler: raced } = contended(10);
      const error = await raced.handle(racing, stream, { type: 'FlipSwitch', data: { switchId: 's1', on: true } }, context).catch((e) => e);
      expect(error).toBeInstanceOf(ConcurrencyError);
      expect(error.code).toBe('CONFLICT');
      expect(racing.calls).toBe(3);
      expect((await store.readStream(stream)).filter((e) => (e.data as { switchId?: string }).switchId === 's1')).toEqual([]);
    });

    it("refuses a caller's stale expected version without retrying, and accepts a current one", async () => {
      const stream = newBoard();
      await install(stream);
      const flip = { type: 'FlipSwitch', data: { switchId: 's1', on: true } } as const;
      await expect(handler.handle(switchboard, stream, flip, context, { expectedRevision: 5n })).rejects.toMatchObject({
        code: 'CONFLICT',
        message: expect.stringMatching(/version 0, not 5/),
      });
      const { decider: racing, handler: raced } = contended(1);
      await expect(raced.handle(racing, stream, flip, context, { expectedRevision: 0n })).rejects.toBeInstanceOf(ConcurrencyError);
      expect(racing.calls).toBe(1);
      await expect(handler.handle(switchboard, stream, flip, context, { expectedRevision: 1n })).resolves.toMatchObject({ revision: 2n });
      expect(await store.readStream(stream)).toHaveLength(3);
    });
  });
}
