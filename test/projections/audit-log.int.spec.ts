import { randomUUID } from 'node:crypto';
import { auditLogProjection } from '../../projections/audit-log';
import { CommandHandler } from '../../src/core/command-handler';
import { ProjectionRunner } from '../../src/core/projection-runner';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { SqlDatabase } from '../../src/sql/database';
import { switchboard } from '../fixtures/switchboard.decider';
import { dropTestSchemas, testDatabases } from '../support/databases';
import { readable } from '../support/readable';

afterAll(dropTestSchemas);

for (const database of testDatabases) {
  describe(`audit log read model on ${database.name}`, () => {
    let db: SqlDatabase;
    let store: SqlEventStore;
    let runner: ProjectionRunner;
    beforeAll(async () => {
      db = await database.open();
      store = await SqlEventStore.open(db);
      runner = new ProjectionRunner({ store, db, projection: auditLogProjection });
    });
    afterAll(async () => {
      await db.close();
    });

    it('given commands by several actors and tenants, records who did what, when and why, in log order', async () => {
      const handler = new CommandHandler(store);
      const ann = {
        tenantId: 'tenant-a',
        actor: { kind: 'user' as const, id: 'u-ann', name: 'Ann' },
        correlationId: 'req-1',
        now: () => new Date('2026-11-01T09:00:00Z'),
      };
      const bob = {
        tenantId: 'tenant-b',
        actor: { kind: 'api-token' as const, id: 't-bob' },
        correlationId: 'req-2',
        now: () => new Date('2026-11-01T09:05:00Z'),
      };
      await handler.handle(switchboard, 'switchboard-1', { type: 'InstallSwitchboard', data: { name: 'a' } }, ann);
      await handler.handle(switchboard, 'switchboard-2', { type: 'InstallSwitchboard', data: { name: 'b' } }, bob);
      await handler.handle(switchboard, 'switchboard-1', { type: 'FlipSwitch', data: { switchId: 's', on: true } }, { ...ann, causationId: 'cmd-9' });
      const last = await store.appendToStream('imported-1', [{ type: 'Imported', data: {}, metadata: { occurredAt: 'not a time' } }]);
      await readable(store, last.position);

      expect(await runner.catchUp()).toBe(true);
      const rows = await db.query(
        `SELECT tenant_id, actor_kind, actor_id, actor_name, stream, revision::int AS revision, type, correlation_id, causation_id,
                to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI') AS occurred
           FROM audit_log ORDER BY ordinal`,
      );
      expect(rows).toEqual([
        {
          tenant_id: 'tenant-a',
          actor_kind: 'user',
          actor_id: 'u-ann',
          actor_name: 'Ann',
          stream: 'switchboard-1',
          revision: 0,
          type: 'SwitchboardInstalled',
          correlation_id: 'req-1',
          causation_id: 'req-1',
          occurred: '2026-11-01T09:00',
        },
        {
          tenant_id: 'tenant-b',
          actor_kind: 'api-token',
          actor_id: 't-bob',
          actor_name: null,
          stream: 'switchboard-2',
          revision: 0,
          type: 'SwitchboardInstalled',
          correlation_id: 'req-2',
          causation_id: 'req-2',
          occurred: '2026-11-01T09:05',
        },
        {
          tenant_id: 'tenant-a',
          actor_kind: 'user',
          actor_id: 'u-ann',
          actor_name: 'Ann',
          stream: 'switchboard-1',
          revision: 1,
          type: 'SwitchFlipped',
          correlation_id: 'req-1',
          causation_id: 'cmd-9',
          occurred: '2026-11-01T09:00',
        },
        {
          tenant_id: null,
          actor_kind: null,
          actor_id: null,
          actor_name: null,
          stream: 'imported-1',
          revision: 0,
          type: 'Imported',
          correlation_id: null,
          causation_id: null,
          occurred: null,
        },
      ]);
      const [first] = await store.readStream('switchboard-1');
      expect(await db.query('SELECT event_id::text AS event_id, position FROM audit_log WHERE ordinal = 1')).toEqual([
        { event_id: first.id, position: first.position },
      ]);
    });

    it('refuses an event it holds already, whichever way its row comes', async () => {
      // Exactly once is the checkpoint's to keep; should a batch come twice all the same, its
      // position (each event's own) is taken: the statement fails and writes nothing.
      const [first] = await store.readStream('switchboard-1');
      const count = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log'))[0].n;
      const before = await count();
      // Under another id too: the position tells that it is the same event.
      const renamed = { ...first, id: randomUUID() };
      const forms = [
        auditLogProjection.apply(first),
        auditLogProjection.applyAll!([first]),
        auditLogProjection.applyFromLog!([first]),
        auditLogProjection.apply(renamed),
        auditLogProjection.applyAll!([renamed]),
      ];
      for (const statements of forms) {
        expect(statements).toHaveLength(1);
        await expect(db.query(statements[0].sql, statements[0].params)).rejects.toMatchObject({ code: '23505' });
      }
      expect(await count()).toBe(before);
    });
  });
}
