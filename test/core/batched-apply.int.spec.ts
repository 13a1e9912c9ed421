import { auditLogProjection } from '../../projections/audit-log';
import { productProjection } from '../../projections';
import { readCheckpoint } from '../../src/core/checkpoints';
import type { Projection } from '../../src/core/projection';
import { ProjectionRunner } from '../../src/core/projection-runner';
import { rebuildProjection } from '../../src/core/rebuild';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { SqlDatabase, SqlTransaction } from '../../src/sql/database';
import { dropTestSchemas, testDatabases } from '../support/databases';
import { readable } from '../support/readable';
import { appendLog, productLog, tablesOf } from './product-log';

afterAll(dropTestSchemas);

/** The same read model applied one event at a time: the statements of apply(), event after event. */
const eventByEvent = (projection: Projection): Projection => ({ ...projection, applyAll: undefined });

/** The product events that a batch writes in a form of their own, many rows a statement. */
const BATCHED_TYPES = [
  'CredentialAdded',
  'CredentialVerified',
  'PlanCreated',
  'PlanAdditionalCredentialsSet',
  'PlanCredentialToggled',
  'RepositoryListSyncStarted',
  'RepositoryDiscovered',
  'RepositoryListSynced',
  'BackupTaskStarted',
  'RepositoryBackedUp',
  'RepositoryBackupFailed',
  'BackupTaskCompleted',
  'BackupTaskFailed',
];

for (const database of testDatabases) {
  describe(`read models applied a batch at a time on ${database.name}`, () => {
    let db: SqlDatabase;
    let reference: SqlDatabase;
    let store: SqlEventStore;
    beforeAll(async () => {
      db = await database.open();
      reference = await database.open();
      store = await SqlEventStore.open(db);
      await readable(store, await appendLog(store, productLog(41)));
      // The reference: the log applied event by event, in a database of its own.
      for (const projection of [productProjection, auditLogProjection]) {
        expect(await new ProjectionRunner({ store, db: reference, projection: eventByEvent(projection) }).catchUp()).toBe(true);
      }
    }, 180_000);
    afterAll(async () => {
      await db.close();
      await reference.close();
    });

    it('writes every batched event type, in far fewer statements than one event at a time', async () => {
      const events = await store.readAll({ maxCount: 100_000 });
      expect([...new Set(events.map((event) => event.type))]).toEqual(expect.arrayContaining([...BATCHED_TYPES, 'PlanDeleted', 'RepositoryRenamed']));
      const batched = productProjection.applyAll!(events).length;
      const oneByOne = events.flatMap((event) => productProjection.apply(event)).length;
      expect(batched * 3).toBeLessThan(oneByOne);
    });

    for (const maxBatch of [2000, 97, 7]) {
      it(`gives exactly the tables of applying event by event, in batches of up to ${maxBatch} events`, async () => {
        for (const projection of [productProjection, auditLogProjection]) {
          const runner = new ProjectionRunner({ store, db, projection, maxBatch });
          const rebuilt = await rebuildProjection(runner, store);
          expect(rebuilt.done).toBe(true);
          const ours = await tablesOf(db, projection);
          expect(Object.values(ours).some((rows) => rows.length > 0)).toBe(true);
          expect(ours).toEqual(await tablesOf(reference, projection));
        }
      }, 120_000);
    }

    it('rebuilds the audit history with every index its schema and its later indexes name, all valid', async () => {
      const statements = [...auditLogProjection.schema, ...(auditLogProjection.laterIndexes ?? [])];
      const names = statements.flatMap((statement) => /^CREATE (?:UNIQUE )?INDEX (\w+) ON/.exec(statement)?.[1] ?? []);
      expect(names).toHaveLength(8);
      const runner = new ProjectionRunner({ store, db, projection: auditLogProjection });
      await rebuildProjection(runner, store);
      const present = await db.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE c.relnamespace = current_schema()::regnamespace AND i.indisvalid AND c.relname = ANY($1::text[])`,
        [names],
      );
      expect(present.map((row) => row.name).sort()).toEqual([...names].sort());
      expect(await tablesOf(db, auditLogProjection)).toEqual(await tablesOf(reference, auditLogProjection));
    }, 120_000);
  });

  describe(`a batch that fails midway on ${database.name}`, () => {
    it('leaves neither the rows of its statements before the failure nor a checkpoint', async () => {
      const db = await database.open();
      try {
        const store = await SqlEventStore.open(db);
        const appends = productLog(7, 12);
        // The run started twice: its second start fails on the task's key, in a later statement of the batch than the plans and tasks before it.
        const started = appends.find((append) => append.events[0].type === 'BackupTaskStarted')!;
        appends.push({ stream: started.stream, events: [started.events[0]] });
        await readable(store, await appendLog(store, appends));
        // What the batch's transaction ran, to see that the failure came after statements that wrote rows.
        const ran: string[] = [];
        const watched: SqlDatabase = Object.assign(Object.create(db) as SqlDatabase, {
          transaction: <T>(fn: (tx: SqlTransaction) => Promise<T>) =>
            db.transaction((tx) =>
              fn({
                query: (sql, params, options) => {
                  ran.push(sql);
                  return tx.query(sql, params, options);
                },
                send: (sql, params) => {
                  ran.push(sql);
                  return tx.send(sql, params);
                },
              }),
            ),
        });
        const runner = new ProjectionRunner({ store, db: watched, projection: productProjection });

        await expect(runner.catchUp()).rejects.toThrow(/tasks_pkey|duplicate key/);
        // The batched form failed after statements that wrote rows; the same events one statement each failed too.
        // The run's two starts go to two rounds: the second round's insert fails.
        const taskInserts = ran.flatMap((sql, n) => (/^WITH batch .*INSERT INTO tasks/s.test(sql) ? [n] : []));
        expect(taskInserts).toHaveLength(2);
        const failed = taskInserts[1];
        const written = ran.slice(0, failed).map((sql) => /INSERT INTO (tenants|plans|credentials|tasks) /.exec(sql)?.[1]);
        expect(new Set(written)).toEqual(new Set(['tenants', 'credentials', 'plans', 'tasks', undefined]));
        // Then event by event: its statements go together, so those after the failing insert are sent too, and fail with it.
        const eventByEvent = ran.flatMap((sql, n) => (/^INSERT INTO tasks .* VALUES/s.test(sql) ? [n] : []));
        expect(eventByEvent.length).toBeGreaterThan(0);
        expect(eventByEvent.every((n) => n > failed)).toBe(true);

        for (const table of ['tenants', 'plans', 'plan_credentials', 'credentials', 'tasks']) {
          expect(await db.query(`SELECT * FROM ${table}`)).toEqual([]);
        }
        expect(await readCheckpoint(db, productProjection.name)).toEqual({
          version: productProjection.version,
          position: null,
          eventsApplied: 0,
          inline: false,
          indexesPending: false,
        });
      } finally {
        await db.close();
      }
    }, 120_000);
  });
}
