import { randomUUID } from 'node:crypto';
import { buildLaterIndexes, indexesBuilt } from '../../src/core/checkpoints';
import { ProjectionTimeoutError } from '../../src/core/errors';
import { silentLogger } from '../../src/core/logger';
import type { Projection } from '../../src/core/projection';
import { ProjectionRunner } from '../../src/core/projection-runner';
import { ReadModelProgress } from '../../src/core/read-model-progress';
import { LAG_READ_EVERY_MS, Metrics } from '../../src/metrics/metrics';
import { type RebuildProgress, rebuildProjection } from '../../src/core/rebuild';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { SqlDatabase } from '../../src/sql/database';
import { Client } from 'pg';
import { describeWithPostgres, dropTestSchemas, openPostgres, otherSession, testDatabases } from '../support/databases';
import { eventually } from '../support/eventually';
import { testDatabaseUrl } from '../support/postgres-url';
import { readable } from '../support/readable';
import { parseExposition, total } from '../metrics/scrape';

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

/** The database as a runner sees it, with each exec's text noted, and a hook run before each. */
function watchedExec(db: SqlDatabase, ran: string[], before: (sql: string) => Promise<void> | void = () => undefined): SqlDatabase {
  return Object.assign(Object.create(db) as SqlDatabase, {
    exec: async (sql: string) => {
      ran.push(sql);
      await before(sql);
      return db.exec(sql);
    },
  });
}

for (const database of testDatabases) {
  /** Whether later indexes from the size given are built concurrently: on a PostgreSQL server, not on PGlite (one connection). */
  const concurrent = database.name === 'postgres';

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

    const watched = (ran: string[], before?: (sql: string) => Promise<void> | void) => watchedExec(db, ran, before);

    it('creates the tables without them, and builds them once the batch that reaches the end has committed, noted as pending until built', async () => {
      const projection = notedProjection();
      await new ProjectionRunner({ store, db, projection }).reset();
      expect(await indexes(db)).toEqual({ noted_by_event: true });
      const head = await store.headPosition();
      const checkpoints: ({ position: string | null; indexesPending: boolean } | null)[] = [];
      const runner = new ProjectionRunner({
        store,
        db: watched([], async () => {
          const checkpoint = await runner.checkpoint();
          checkpoints.push(checkpoint && { position: checkpoint.position, indexesPending: checkpoint.indexesPending });
        }),
        projection,
        maxBatch: 7,
      });
      const seen: Promise<Record<string, boolean>>[] = [];
      const unsubscribe = runner.onProgress(() => seen.push(indexes(db)));
      try {
        expect(await runner.catchUp()).toBe(true);
      } finally {
        unsubscribe();
      }
      // Batches of 7 of 30 events: built once, with the checkpoint at the end saying they were still to come.
      expect(checkpoints).toHaveLength(1);
      expect(checkpoints[0]?.position).toBe(head);
      expect(checkpoints[0]?.indexesPending).toBe(true);
      expect(await runner.checkpoint()).toMatchObject({ position: head, indexesPending: false });
      expect(seen.length).toBeGreaterThan(1);
      expect(await seen.at(-1)).toEqual({ noted_by_event: true, noted_by_kind: true, noted_by_n: true });
      expect(await seen[0]).toEqual({ noted_by_event: true });
      const [{ n }] = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM noted');
      expect(n).toBe('30');
    });

    for (const [how, concurrentFromBytes] of [
      ['the table being small', undefined],
      ['from a size of 0', 0],
    ] as const) {
      it(`builds again, ${how}, an index a cut-short build left invalid, and leaves valid ones alone`, async () => {
        const projection = notedProjection();
        await rebuildProjection(new ProjectionRunner({ store, db, projection }), store);
        const oidOf = async (name: string) => (await db.query<{ oid: string }>('SELECT to_regclass($1)::oid::text AS oid FROM (SELECT 1) one', [name]))[0].oid;
        const kindBefore = await oidOf('noted_by_kind');
        const nBefore = await oidOf('noted_by_n');
        // What a CREATE INDEX CONCURRENTLY that failed or was cancelled leaves behind.
        await db.query("UPDATE pg_index SET indisvalid = false WHERE indexrelid = to_regclass('noted_by_kind')");
        expect((await indexes(db)).noted_by_kind).toBe(false);

        const built: string[] = [];
        expect(await buildLaterIndexes(db, projection, { concurrentFromBytes, building: (index) => built.push(index) })).toBe(1);
        expect(built).toEqual(concurrentFromBytes === 0 && concurrent ? ['noted_by_kind'] : []);
        expect(await indexes(db)).toEqual({ noted_by_event: true, noted_by_kind: true, noted_by_n: true });
        expect(await oidOf('noted_by_kind')).not.toBe(kindBefore);
        expect(await oidOf('noted_by_n')).toBe(nBefore);
        expect(await buildLaterIndexes(db, projection, { concurrentFromBytes })).toBe(0);
      });
    }

    it(`builds them on a small table in one statement of plain builds, and ${concurrent ? 'one by one concurrently' : 'so too'} on a table from the size given`, async () => {
      const ran: string[] = [];
      const projection = notedProjection();
      const plain = 'CREATE INDEX noted_by_kind ON noted (kind);\nCREATE INDEX noted_by_n ON noted (n) WHERE n > 1';
      await new ProjectionRunner({ store, db, projection }).reset();
      expect(await new ProjectionRunner({ store, db: watched(ran), projection }).catchUp()).toBe(true);
      expect(ran).toEqual([plain]);

      ran.length = 0;
      await new ProjectionRunner({ store, db, projection }).reset();
      const [{ bytes }] = await db.query<{ bytes: string }>("SELECT pg_relation_size('noted')::text AS bytes FROM (SELECT 1) one");
      expect(await new ProjectionRunner({ store, db: watched(ran), projection, concurrentIndexBytes: Number(bytes) }).catchUp()).toBe(true);
      expect(ran).toEqual(
        concurrent ? ['CREATE INDEX CONCURRENTLY noted_by_kind ON noted (kind)', 'CREATE INDEX CONCURRENTLY noted_by_n ON noted (n) WHERE n > 1'] : [plain],
      );
      expect(await indexes(db)).toEqual({ noted_by_event: true, noted_by_kind: true, noted_by_n: true });
    });

    it('tells a rebuild of each index it builds concurrently, in its progress, before the rebuild is done', async () => {
      const runner = new ProjectionRunner({ store, db, projection: notedProjection(), concurrentIndexBytes: 0, maxBatch: 7 });
      const reports: RebuildProgress[] = [];
      const done = await rebuildProjection(runner, store, (progress) => reports.push(progress));
      expect(done).toMatchObject({ done: true, eventsApplied: 30 });
      expect(done.buildingIndex).toBeUndefined();
      const building = reports.filter((progress) => progress.buildingIndex);
      if (!concurrent) {
        expect(building).toEqual([]);
        return;
      }
      expect(building.map((progress) => [progress.buildingIndex, progress.eventsApplied, progress.done])).toEqual([
        [{ index: 'noted_by_kind', number: 1, of: 2, eventsApplied: 30 }, 30, false],
        [{ index: 'noted_by_n', number: 2, of: 2, eventsApplied: 30 }, 30, false],
      ]);
      // Then the last batch's progress, told once they are built, and the end: neither says an index is being built.
      const after = reports.slice(reports.indexOf(building[1]) + 1);
      expect(after.map((progress) => [progress.eventsApplied, progress.buildingIndex, progress.done])).toEqual([
        [30, undefined, false],
        [30, undefined, true],
      ]);
    });

    it('builds them once the batch that reaches the end as it stood has committed, when running, with the log a whole number of batches', async () => {
      const projection = notedProjection();
      await new ProjectionRunner({ store, db, projection }).reset();
      const head = (await store.headPosition())!;
      const positions: (string | null)[] = [];
      const runner = new ProjectionRunner({
        store,
        db: watched([], async () => {
          positions.push((await runner.checkpoint())?.position ?? null);
        }),
        projection,
        maxBatch: 10,
      });
      runner.start();
      try {
        await runner.waitForPosition(head, 30_000);
        expect(await indexes(db)).toEqual({ noted_by_event: true, noted_by_kind: true, noted_by_n: true });
        expect(positions).toEqual([head]);
      } finally {
        await runner.stop();
      }
    });

    /**
     * A runner of the read model replayed to the head, one of its indexes still to be built, as a
     * runner of a version that committed the last batch before it built them would leave it.
     */
    const withIndexesPending = async (): Promise<{ runner: ProjectionRunner; head: string }> => {
      const projection = notedProjection();
      const head = (await store.headPosition())!;
      await rebuildProjection(new ProjectionRunner({ store, db, projection }), store);
      await db.exec('DROP INDEX noted_by_kind');
      await db.query("UPDATE projection_checkpoints SET indexes_pending = true WHERE name = 'noted'");
      return { runner: new ProjectionRunner({ store, db, projection }), head };
    };

    it('has reached no position while its indexes are still to be built, and reaches the end once a runner has built them', async () => {
      const { runner, head } = await withIndexesPending();
      expect(await runner.checkpoint()).toMatchObject({ position: head, indexesPending: true });
      await expect(runner.waitForPosition(head, 300)).rejects.toBeInstanceOf(ProjectionTimeoutError);

      runner.start();
      try {
        await runner.waitForPosition(head, 30_000);
        expect(await indexes(db)).toEqual({ noted_by_event: true, noted_by_kind: true, noted_by_n: true });
        expect(await runner.checkpoint()).toMatchObject({ position: head, indexesPending: false });
      } finally {
        await runner.stop();
      }
    });

    it('tells /metrics what /readyz tells, the indexes being built, also once events were appended past the head it fell behind at', async () => {
      const { runner, head } = await withIndexesPending();
      const progress = new ReadModelProgress(store, [runner], { logger: silentLogger, graceMs: 100, pollMs: 20 });
      let now = Date.now();
      const metrics = new Metrics({ now: () => now });
      metrics.watchProjections(() => ({ store, runners: [runner] }));
      metrics.watchReadModelProgress(progress);
      // Each scrape a reading of its own: readings are at most one per LAG_READ_EVERY_MS.
      const scrape = async () => {
        now += LAG_READ_EVERY_MS + 1;
        const samples = parseExposition(await metrics.text());
        const of = (name: string) => total(samples, name, { projection: 'noted' });
        return { pending: of('backplane_projection_indexes_pending'), events: of('backplane_projection_lag_events') };
      };
      try {
        await progress.start();
        // Counted too: nothing left to apply up to the head it fell behind at.
        await eventually(
          async () => expect(progress.statuses()).toEqual([expect.objectContaining({ position: head, indexesPending: true, eventsBehind: 0 })]),
          15_000,
        );
        expect(await scrape()).toEqual({ pending: 1, events: 0 });
        // The flag is /readyz's, not the checkpoint's note (which a replay sets from its start, while it still applies events).
        const replaying = new Metrics({ now: () => now });
        replaying.watchProjections(() => ({ store, runners: [runner] }));
        replaying.watchReadModelProgress({ statuses: () => progress.statuses().map((status) => ({ ...status, indexesPending: false })) });
        expect(total(parseExposition(await replaying.text()), 'backplane_projection_indexes_pending', { projection: 'noted' })).toBe(0);
        // Appended while the indexes are built: the runner applies them once they are, and the lag counts them meanwhile.
        const written = await store.appendToStream(
          `noted-${randomUUID()}`,
          [4, 5, 6].map((n) => ({ type: 'Third', data: { n } })),
        );
        await readable(store, written.position);
        expect(progress.statuses()).toEqual([expect.objectContaining({ indexesPending: true, eventsBehind: 0 })]);
        expect(await scrape()).toEqual({ pending: 1, events: 3 });

        runner.start();
        await eventually(async () => expect(progress.allCurrent).toBe(true), 30_000);
        await runner.waitForPosition(written.position, 30_000);
        expect(await scrape()).toEqual({ pending: 0, events: 0 });
      } finally {
        progress.stop();
        await runner.stop();
      }
    });

    it('shows the read model as catching up while its indexes are still to be built, with nothing to apply and no time known, and current once built', async () => {
      const { runner, head } = await withIndexesPending();
      const progress = new ReadModelProgress(store, [runner], { logger: silentLogger, graceMs: 100, pollMs: 20 });
      try {
        await progress.start();
        expect(progress.allCurrent).toBe(false);
        await eventually(async () =>
          expect(progress.statuses()).toEqual([
            expect.objectContaining({ name: 'noted', current: false, position: head, eventsBehind: 0, secondsLeft: null, indexesPending: true }),
          ]),
        );
        runner.start();
        await progress.whenCurrent;
        expect(progress.statuses()).toEqual([expect.objectContaining({ current: true, eventsBehind: 0, secondsLeft: 0, indexesPending: false })]);
        expect(await indexes(db)).toEqual({ noted_by_event: true, noted_by_kind: true, noted_by_n: true });
      } finally {
        progress.stop();
        await runner.stop();
      }
    });

    it('shows a replay under way as such, not as indexes being built, though its reset noted them as to come', async () => {
      const runner = new ProjectionRunner({ store, db, projection: notedProjection() });
      await runner.reset();
      expect(await runner.checkpoint()).toMatchObject({ position: null, indexesPending: true });
      const progress = new ReadModelProgress(store, [runner], { logger: silentLogger, graceMs: 100, pollMs: 20 });
      try {
        await progress.start();
        await eventually(async () =>
          expect(progress.statuses()).toEqual([expect.objectContaining({ current: false, position: null, eventsBehind: 30, indexesPending: false })]),
        );
      } finally {
        progress.stop();
      }
    });

    it('neither notes the indexes built nor tells the replay done when a reset took the checkpoint after its last batch', async () => {
      const projection = notedProjection();
      await new ProjectionRunner({ store, db, projection }).reset();
      // The reset comes as the first index is about to be built: the batch that reached the end has committed.
      let reset: Promise<void> | undefined;
      const runner = new ProjectionRunner({
        store,
        db: watched([], async (sql) => {
          if (sql.includes('CREATE INDEX')) reset ??= new ProjectionRunner({ store, db, projection }).reset();
          await reset;
        }),
        projection,
      });
      await expect(runner.catchUp()).rejects.toMatchObject({ code: 'CHECKPOINT_MOVED' });
      expect(reset).toBeDefined();
      // The reset's replay is still to come, and the indexes with it.
      expect(await runner.checkpoint()).toMatchObject({ position: null, eventsApplied: 0, indexesPending: true });
      // Found where its runner left it, with an index missing, the note stays.
      const head = (await store.headPosition())!;
      await rebuildProjection(new ProjectionRunner({ store, db, projection }), store);
      await db.exec('DROP INDEX noted_by_kind');
      await db.query("UPDATE projection_checkpoints SET indexes_pending = true WHERE name = 'noted'");
      expect(await indexesBuilt(db, projection, { position: head, inline: false })).toBe('pending');
      expect(await indexesBuilt(db, projection, { position: 'elsewhere', inline: false })).toBe('moved');
      // Nor is one the appends keep, where its runner took it for its own.
      expect(await indexesBuilt(db, projection, { position: head, inline: true })).toBe('moved');
    });

    it('keeps the indexes of a read model made when they were part of its schema, building none', async () => {
      // As after an upgrade that moved them out of the schema without changing the tables.
      await rebuildProjection(new ProjectionRunner({ store, db, projection: notedProjection([]) }), store);
      await db.exec('CREATE INDEX noted_by_kind ON noted (kind); CREATE INDEX noted_by_n ON noted (n) WHERE n > 1');
      expect(await buildLaterIndexes(db, notedProjection())).toBe(0);
    });

    it('refuses a later index whose statement does not name it and its table as the runner is made, before any replay', () => {
      for (const statement of [
        'CREATE INDEX ON noted (kind)',
        'CREATE INDEX IF NOT EXISTS noted_by_kind ON noted (kind)',
        'CREATE INDEX noted_by_kind ON public.noted (kind)',
      ]) {
        expect(() => new ProjectionRunner({ store, db, projection: notedProjection([statement]) })).toThrow(
          /projection noted: a later index must read CREATE INDEX <name> ON <table> \.\.\./,
        );
      }
    });
  });
}

describeWithPostgres('concurrent index builds on a PostgreSQL server', () => {
  let db: SqlDatabase;
  let store: SqlEventStore;
  let older: Client;
  let pid: number;

  beforeEach(async () => {
    db = await openPostgres();
    store = await SqlEventStore.open(db);
    older = new Client({ connectionString: testDatabaseUrl() });
    await older.connect();
    // A transaction with a snapshot, begun before the build: the build waits for it to end before its last phase.
    await older.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    pid = (await older.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  });
  afterEach(async () => {
    await older.end();
    await db.close();
  });

  /** Whether the build of the index waits for the older transaction now. */
  async function waitingForOlder(index: string): Promise<boolean> {
    const [row] = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY ' || $2 || ' %' AND $1::int = ANY (pg_blocking_pids(pid))",
      [pid, index],
    );
    return row.n === 1;
  }

  it('holds no transaction that readers of the log wait behind, even while it waits for an older transaction', async () => {
    const projection = notedProjection();
    await new ProjectionRunner({ store, db, projection }).reset();
    const built = buildLaterIndexes(db, projection, { concurrentFromBytes: 0 });
    await eventually(async () => expect(await waitingForOlder('noted_by_kind')).toBe(true), 15_000);

    const written = await store.appendToStream(`noted-${randomUUID()}`, [{ type: 'Third', data: { n: 1 } }]);
    await readable(store, written.position);
    expect(await waitingForOlder('noted_by_kind')).toBe(true);

    await older.query('COMMIT');
    expect(await built).toBe(2);
    expect(await indexes(db)).toEqual({ noted_by_event: true, noted_by_kind: true, noted_by_n: true });
  });

  /** Thirty events of the read model, readable: where the log ends. */
  async function thirtyNoted(): Promise<string> {
    const written = await store.appendToStream(
      `noted-${randomUUID()}`,
      Array.from({ length: 30 }, (_, n) => ({ type: 'Other', data: { n } })),
    );
    await readable(store, written.position);
    return written.position;
  }

  it('shows the read model building its indexes, in this process and in another, with the time left not known', async () => {
    await thirtyNoted();
    const runner = new ProjectionRunner({ store, db, projection: notedProjection(), concurrentIndexBytes: 0, maxBatch: 7 });
    await runner.reset();
    const progress = new ReadModelProgress(store, [runner], { logger: silentLogger, graceMs: 100, pollMs: 20 });
    // Another process's view: a runner of the same read model that does not run here, its checkpoint read.
    const elsewhere = new ReadModelProgress(store, [new ProjectionRunner({ store, db, projection: notedProjection() })], {
      logger: silentLogger,
      graceMs: 100,
      pollMs: 20,
    });
    try {
      await Promise.all([progress.start(), elsewhere.start()]);
      runner.start();
      // The build waits for the older transaction, after the batch that reaches the head has committed.
      await eventually(async () => expect(await waitingForOlder('noted_by_kind')).toBe(true), 15_000);
      for (const view of [progress, elsewhere]) {
        await eventually(async () =>
          expect(view.statuses()).toEqual([
            expect.objectContaining({ current: false, eventsApplied: 30, eventsBehind: 0, indexesPending: true, secondsLeft: null }),
          ]),
        );
        expect(view.catchingUp()?.retryAfterMs).toBe(5000);
      }
      await older.query('COMMIT');
      await Promise.all([progress.whenCurrent, elsewhere.whenCurrent]);
      for (const view of [progress, elsewhere]) {
        expect(view.statuses()).toEqual([expect.objectContaining({ current: true, eventsApplied: 30, indexesPending: false })]);
      }
    } finally {
      progress.stop();
      elsewhere.stop();
      await runner.stop();
    }
  });

  it('tells a rebuild followed from another process that the indexes are being built once the replay there is over', async () => {
    const end = await thirtyNoted();
    // The running server's runner, which the rebuild's reset sets replaying.
    // A retry after the cancelled build's failure slower than the rebuild's reset and attempt at the lock, which the server must keep.
    const server = new ProjectionRunner({ store, db, projection: notedProjection(), concurrentIndexBytes: 0, checkpointWatchMs: 20, retryDelayMs: 3000 });
    server.start();
    try {
      await eventually(async () => expect((await server.checkpoint())?.position).toBe(end), 15_000);
      // Its first build under way, waiting for the older transaction: the rebuild's reset cancels it.
      await eventually(async () => expect(await waitingForOlder('noted_by_kind')).toBe(true), 15_000);
      const reports: RebuildProgress[] = [];
      const rebuilt = rebuildProjection(new ProjectionRunner({ store, db, projection: notedProjection() }), store, (progress) => reports.push(progress));
      await eventually(async () => expect(reports.some((progress) => progress.buildingIndexes)).toBe(true), 15_000);
      expect(reports.find((progress) => progress.buildingIndexes)).toMatchObject({ where: 'elsewhere', eventsApplied: 30, secondsLeft: null, done: false });
      await older.query('COMMIT');
      expect(await rebuilt).toMatchObject({ where: 'elsewhere', done: true, eventsApplied: 30 });
      expect(await indexes(db)).toEqual({ noted_by_event: true, noted_by_kind: true, noted_by_n: true });
    } finally {
      await server.stop();
    }
  });

  it('is cancelled by a reset, which neither waits for it nor holds readers of the log meanwhile', async () => {
    const projection = notedProjection();
    await new ProjectionRunner({ store, db, projection }).reset();
    const built = buildLaterIndexes(db, projection, { concurrentFromBytes: 0 }).catch((error: unknown) => error);
    await eventually(async () => expect(await waitingForOlder('noted_by_kind')).toBe(true), 15_000);

    // Without the cancel, the reset would wait for the build, which waits for the older transaction, past the reset's lock timeout.
    await new ProjectionRunner({ store, db, projection }).reset();
    expect(await built).toMatchObject({ code: '57014' });
    expect(await indexes(db)).toEqual({ noted_by_event: true });
    const written = await store.appendToStream(`noted-${randomUUID()}`, [{ type: 'Third', data: { n: 2 } }]);
    await readable(store, written.position);
  });

  it('cancels a build left under way on its table by another session before it builds the index again', async () => {
    const projection = notedProjection();
    await new ProjectionRunner({ store, db, projection }).reset();
    // The build of a process that let go of the projection, still under way on the server.
    const orphan = await otherSession(db);
    try {
      const orphaned = orphan.query('CREATE INDEX CONCURRENTLY noted_by_kind ON noted (kind)').catch((error: unknown) => error);
      await eventually(async () => expect(await waitingForOlder('noted_by_kind')).toBe(true), 15_000);

      const built = buildLaterIndexes(db, projection, { concurrentFromBytes: 0 });
      expect(await orphaned).toMatchObject({ code: '57014' });
      await older.query('COMMIT');
      expect(await built).toBe(2);
      expect(await indexes(db)).toEqual({ noted_by_event: true, noted_by_kind: true, noted_by_n: true });
    } finally {
      await orphan.end();
    }
  });

  it('leaves its indexes noted as pending when a reset that dropped them commits while the note is being cleared', async () => {
    await older.query('COMMIT');
    const projection = notedProjection();
    await rebuildProjection(new ProjectionRunner({ store, db, projection }), store);
    await db.query("UPDATE projection_checkpoints SET indexes_pending = true WHERE name = 'noted'");
    // A reset under way: it holds the checkpoint's row, and has dropped the tables (an index of them here).
    const reset = await otherSession(db);
    try {
      await reset.query('BEGIN');
      await reset.query("SELECT name FROM projection_checkpoints WHERE name = 'noted' FOR UPDATE");
      await reset.query('DROP INDEX noted_by_kind');
      const cleared = indexesBuilt(db, projection, { position: await store.headPosition(), inline: false });
      await eventually(async () => {
        const [row] = await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'SELECT version, position, %FOR UPDATE' AND $1::int = ANY (pg_blocking_pids(pid))",
          [(await reset.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid],
        );
        expect(row.n).toBe(1);
      }, 15_000);
      await reset.query("UPDATE projection_checkpoints SET position = NULL WHERE name = 'noted'");
      await reset.query('COMMIT');
      // The log is empty: the reset leaves the checkpoint where it was, and the index it dropped keeps the note.
      expect(await cleared).toBe('pending');
    } finally {
      await reset.end();
    }
    expect((await new ProjectionRunner({ store, db, projection }).checkpoint())?.indexesPending).toBe(true);
  });

  it('stops between two indexes when the runner stops, and the next replay builds the rest', async () => {
    await older.query('COMMIT');
    const projection = notedProjection([
      'CREATE INDEX noted_by_kind ON noted (kind)',
      'CREATE INDEX noted_by_n ON noted (n) WHERE n > 1',
      'CREATE INDEX noted_by_both ON noted (kind, n)',
    ]);
    await new ProjectionRunner({ store, db, projection }).reset();
    let runner: ProjectionRunner | undefined;
    let stopped: Promise<void> | undefined;
    const built: string[] = [];
    // The first index's build starts the runner's stop (not waited for: the stop waits for that build).
    const watched = watchedExec(db, built, (sql) => {
      if (sql.startsWith('CREATE INDEX CONCURRENTLY')) stopped ??= runner!.stop();
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
});
