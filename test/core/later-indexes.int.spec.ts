import { randomUUID } from 'node:crypto';
import { buildLaterIndexes } from '../../src/core/checkpoints';
import type { Projection } from '../../src/core/projection';
import { ProjectionRunner } from '../../src/core/projection-runner';
import { type RebuildProgress, rebuildProjection } from '../../src/core/rebuild';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { SqlDatabase } from '../../src/sql/database';
import { Client } from 'pg';
import { describeWithPostgres, dropTestSchemas, openPostgres, testDatabases } from '../support/databases';
import { eventually } from '../support/eventually';
import { testDatabaseUrl } from '../support/postgres-url';
import { readable } from '../support/readable';

afterAll(dropTestSchemas);

/** A read model of one table, with an index kept up row by row and two built once a replay has reached the log's end. */
function notedProjection(laterIndexes = ['CREATE INDEX noted_by_kind ON noted (kind)', 'CREATE INDEX noted_by_n ON noted (n) WHERE n > 1']): Projection {
  return {
    name: 'noted',
    version: 1,
    tables: ['noted'],
    schema: ['CREATE TABLE noted (event_id uuid PRIMARY KEY, kind text NOT NULL, n integer NOT NULL)', 'CREATE INDEX noted_by_event ON noted (event_id, n)'],
    laterIndexes,
    filter: { streamPrefixes: ['noted-'] },
    apply: (event) => [{ sql: 'INSERT INTO noted (event_id, kind, n) VALUES ($1, $2, $3)', params: [event.id, event.type, (event.data as { n: number }).n] }],
  };
}

async function indexes(db: SqlDatabase): Promise<Record<string, boolean>> {
  const rows = await db.query<{ name: string; valid: boolean }>(
    `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = to_regclass('noted') AND NOT i.indisprimary`,
  );
  return Object.fromEntries(rows.map((row) => [row.name, row.valid]));
}

for (const database of testDatabases) {
  describe(`indexes built once a replay reaches the log's end, on ${database.name}`, () => {
    let db: SqlDatabase;
    let store: SqlEventStore;

    beforeEach(async () => {
      db = await database.open();
      store = await SqlEventStore.open(db);
      const written = await store.appendToStream(
        `noted-${randomUUID()}`,
        Array.from({ length: 30 }, (_, n) => ({ type: n % 3 === 0 ? 'Third' : 'Other', data: { n } })),
      );
      await readable(store, written.position);
    });
    afterEach(() => db.close());

    it('creates the tables without them, and has them built and valid when the replay reports the read model caught up', async () => {
      const runner = new ProjectionRunner({ store, db, projection: notedProjection(), maxBatch: 7 });
      await runner.reset();
      expect(await indexes(db)).toEqual({ noted_by_event: true });
      const seen: { caughtUp: boolean; indexes: Promise<Record<string, boolean>> }[] = [];
      const unsubscribe = runner.onProgress((progress) => seen.push({ caughtUp: progress.caughtUp, indexes: indexes(db) }));
      try {
        expect(await runner.catchUp()).toBe(true);
      } finally {
        unsubscribe();
      }
      expect(await indexes(db)).toEqual({ noted_by_event: true, noted_by_kind: true, noted_by_n: true });
      // Batches of 7 of 30 events: the last progress is the end, and the indexes were there as it was told.
      const last = seen.at(-1)!;
      expect(seen.length).toBeGreaterThan(1);
      expect(await last.indexes).toEqual({ noted_by_event: true, noted_by_kind: true, noted_by_n: true });
      const [{ n }] = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM noted');
      expect(n).toBe('30');
    });

    for (const [how, concurrentFromBytes] of [
      ['plainly, the table being small', undefined],
      ['concurrently', 0],
    ] as const) {
      it(`builds again, ${how}, an index a cut-short build left invalid, and leaves valid ones alone`, async () => {
        const projection = notedProjection();
        const runner = new ProjectionRunner({ store, db, projection });
        await rebuildProjection(runner, store);
        const oidOf = async (name: string) => (await db.query<{ oid: string }>('SELECT to_regclass($1)::oid::text AS oid FROM (SELECT 1) one', [name]))[0].oid;
        const kindBefore = await oidOf('noted_by_kind');
        const nBefore = await oidOf('noted_by_n');
        // What a CREATE INDEX CONCURRENTLY that failed or was cancelled leaves behind.
        await db.query("UPDATE pg_index SET indisvalid = false WHERE indexrelid = to_regclass('noted_by_kind')");
        expect((await indexes(db)).noted_by_kind).toBe(false);

        const built: string[] = [];
        expect(await buildLaterIndexes(db, projection, { concurrentFromBytes, building: (index) => built.push(index) })).toBe(1);
        expect(built).toEqual(concurrentFromBytes === 0 ? ['noted_by_kind'] : []);
        expect(await indexes(db)).toEqual({ noted_by_event: true, noted_by_kind: true, noted_by_n: true });
        expect(await oidOf('noted_by_kind')).not.toBe(kindBefore);
        expect(await oidOf('noted_by_n')).toBe(nBefore);
        expect(await buildLaterIndexes(db, projection, { concurrentFromBytes })).toBe(0);
      });
    }

    it('builds them on a small table in one statement of plain builds, and one by one concurrently on a table from the size given', async () => {
      const ran: string[] = [];
      const watched: SqlDatabase = Object.assign(Object.create(db) as SqlDatabase, {
        exec: (sql: string) => {
          ran.push(sql);
          return db.exec(sql);
        },
      });
      const projection = notedProjection();
      await new ProjectionRunner({ store, db, projection }).reset();
      expect(await new ProjectionRunner({ store, db: watched, projection }).catchUp()).toBe(true);
      expect(ran).toEqual(['CREATE INDEX noted_by_kind ON noted (kind);\nCREATE INDEX noted_by_n ON noted (n) WHERE n > 1']);

      ran.length = 0;
      await new ProjectionRunner({ store, db, projection }).reset();
      const [{ bytes }] = await db.query<{ bytes: string }>("SELECT pg_relation_size('noted')::text AS bytes FROM (SELECT 1) one");
      expect(await new ProjectionRunner({ store, db: watched, projection, concurrentIndexBytes: Number(bytes) }).catchUp()).toBe(true);
      expect(ran).toEqual(['CREATE INDEX CONCURRENTLY noted_by_kind ON noted (kind)', 'CREATE INDEX CONCURRENTLY noted_by_n ON noted (n) WHERE n > 1']);
      expect(await indexes(db)).toEqual({ noted_by_event: true, noted_by_kind: true, noted_by_n: true });
    });

    it('tells a rebuild of each index it builds concurrently, in its progress, before the rebuild is done', async () => {
      const runner = new ProjectionRunner({ store, db, projection: notedProjection(), concurrentIndexBytes: 0 });
      const reports: RebuildProgress[] = [];
      const done = await rebuildProjection(runner, store, (progress) => reports.push(progress));
      expect(done).toMatchObject({ done: true, eventsApplied: 30 });
      expect(done.buildingIndex).toBeUndefined();
      const building = reports.filter((progress) => progress.buildingIndex);
      expect(building.map((progress) => [progress.buildingIndex, progress.eventsApplied, progress.done])).toEqual([
        [{ index: 'noted_by_kind', number: 1, of: 2, eventsApplied: 30 }, 30, false],
        [{ index: 'noted_by_n', number: 2, of: 2, eventsApplied: 30 }, 30, false],
      ]);
      // Then the batch's own progress, and the end: neither says an index is being built.
      const after = reports.slice(reports.indexOf(building[1]) + 1);
      expect(after.map((progress) => [progress.buildingIndex, progress.done])).toEqual([
        [undefined, false],
        [undefined, true],
      ]);
    });

    it('keeps the indexes of a read model made when they were part of its schema, building none', async () => {
      // As after an upgrade that moved them out of the schema without changing the tables.
      const before = notedProjection([]);
      await rebuildProjection(new ProjectionRunner({ store, db, projection: before }), store);
      await db.exec('CREATE INDEX noted_by_kind ON noted (kind); CREATE INDEX noted_by_n ON noted (n) WHERE n > 1');
      expect(await buildLaterIndexes(db, notedProjection())).toBe(0);
    });

    it('stops between two indexes when the runner stops, and the next replay builds the rest', async () => {
      const projection = notedProjection([
        'CREATE INDEX noted_by_kind ON noted (kind)',
        'CREATE INDEX noted_by_n ON noted (n) WHERE n > 1',
        'CREATE INDEX noted_by_both ON noted (kind, n)',
      ]);
      await new ProjectionRunner({ store, db, projection }).reset();
      let runner: ProjectionRunner | undefined;
      let stopped: Promise<void> | undefined;
      const built: string[] = [];
      // The database as the runner sees it: the first index's build starts the runner's stop.
      const watched: SqlDatabase = Object.assign(Object.create(db) as SqlDatabase, {
        exec: async (sql: string) => {
          if (sql.startsWith('CREATE INDEX CONCURRENTLY')) {
            built.push(sql);
            stopped ??= runner!.stop();
          }
          return db.exec(sql);
        },
      });
      runner = new ProjectionRunner({ store, db: watched, projection, concurrentIndexBytes: 0 });
      runner.start();
      await eventually(() => expect(stopped).toBeDefined(), 30_000);
      await stopped;
      expect(built).toEqual(['CREATE INDEX CONCURRENTLY noted_by_kind ON noted (kind)']);
      expect(await indexes(db)).toEqual({ noted_by_event: true, noted_by_kind: true });

      expect(await new ProjectionRunner({ store, db, projection }).catchUp()).toBe(true);
      expect(await indexes(db)).toEqual({ noted_by_event: true, noted_by_kind: true, noted_by_n: true, noted_by_both: true });
    });

    it('refuses a later index whose statement does not name it, failing the replay rather than reporting a read model without it', async () => {
      const runner = new ProjectionRunner({ store, db, projection: notedProjection(['CREATE INDEX ON noted (kind)']) });
      await runner.reset();
      await expect(runner.catchUp()).rejects.toThrow(/projection noted: a later index must read CREATE INDEX <name> ON <table>/);
      expect(await indexes(db)).toEqual({ noted_by_event: true });
    });
  });
}

describeWithPostgres('a concurrent index build on a PostgreSQL server', () => {
  it('holds no transaction that readers of the log wait behind, even while it waits for an older transaction', async () => {
    const db = await openPostgres();
    const older = new Client({ connectionString: testDatabaseUrl() });
    await older.connect();
    try {
      const store = await SqlEventStore.open(db);
      const projection = notedProjection();
      await new ProjectionRunner({ store, db, projection }).reset();
      // A transaction with a snapshot, begun before the build: the build waits for it to end before its last phase.
      await older.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const [{ pid }] = (await older.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      const built = buildLaterIndexes(db, projection, { concurrentFromBytes: 0 });
      const waiting = async () => {
        const [row] = await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY noted_by_kind %' AND $1::int = ANY (pg_blocking_pids(pid))",
          [pid],
        );
        return row.n;
      };
      await eventually(async () => expect(await waiting()).toBe(1), 15_000);

      const written = await store.appendToStream(`noted-${randomUUID()}`, [{ type: 'Third', data: { n: 1 } }]);
      await readable(store, written.position);
      expect(await waiting()).toBe(1);

      await older.query('COMMIT');
      expect(await built).toBe(2);
      expect(await indexes(db)).toEqual({ noted_by_event: true, noted_by_kind: true, noted_by_n: true });
    } finally {
      await older.end();
      await db.close();
    }
  });
});
