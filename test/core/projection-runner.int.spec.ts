import { randomUUID } from 'node:crypto';
import { ProjectionTimeoutError } from '../../src/core/errors';
import type { Projection } from '../../src/core/projection';
import { ProjectionRunner, type ProjectionRunnerOptions } from '../../src/core/projection-runner';
import { rebuildProjection, type RebuildProgress } from '../../src/core/rebuild';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { SqlDatabase } from '../../src/sql/database';
import { countingProjection } from '../fixtures/counting.projection';
import { dropTestSchemas, testDatabases } from '../support/databases';
import { eventually } from '../support/eventually';
import { readable } from '../support/readable';

afterAll(dropTestSchemas);

/** How long a test waits for a projection to get somewhere: long, since a wait that succeeds ends at once. */
const WAIT_MS = 30000;

for (const database of testDatabases) {
  describe(`projection runner on ${database.name}`, () => {
    let db: SqlDatabase;
    let store: SqlEventStore;
    const runners: ProjectionRunner[] = [];

    beforeEach(async () => {
      db = await database.open();
      store = await SqlEventStore.open(db, { pollIntervalMs: 20 });
    });
    afterEach(async () => {
      await Promise.all(runners.splice(0).map((runner) => runner.stop()));
      await db.close();
    });

    function runner(projection: Projection, options: Partial<ProjectionRunnerOptions> = {}): ProjectionRunner {
      const created = new ProjectionRunner({ store, db, projection, lockRetryMs: 50, retryDelayMs: 50, checkpointWatchMs: 50, ...options });
      runners.push(created);
      return created;
    }

    /** Appends, and waits until the events can be read, as a catch-up up to the log's end expects. */
    async function appendCounted(count: number, type = 'Counted') {
      const events = Array.from({ length: count }, (_, i) => ({ type, data: { i } }));
      const result = await store.appendToStream(`counted-${randomUUID()}`, events);
      await readable(store, result.position);
      return result;
    }

    async function readModel(name = 'counting') {
      const [totals] = await db.query<{ applied: string }>(`SELECT applied::text AS applied FROM ${name}_totals`);
      const [seen] = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${name}_seen`);
      return { applied: Number(totals.applied), seen: Number(seen.n) };
    }

    it('given events, when the runner catches up, then the read model holds each exactly once', async () => {
      await appendCounted(5);
      await store.appendToStream(`ignored-${randomUUID()}`, [{ type: 'Noise', data: {} }]);
      const last = await appendCounted(3);
      const counting = runner(countingProjection());
      counting.start();
      await counting.waitForPosition(last.position, WAIT_MS);
      expect(await readModel()).toEqual({ applied: 8, seen: 8 });
      expect(await counting.checkpoint()).toMatchObject({ position: last.position, eventsApplied: 8 });
      expect(counting.isActive).toBe(true);
    });

    it('applies live events and lets a reader wait for its own write, even one the projection filters out', async () => {
      const counting = runner(countingProjection());
      counting.start();
      const written = await appendCounted(2);
      await counting.waitForPosition(written.position, WAIT_MS);
      expect(await readModel()).toEqual({ applied: 2, seen: 2 });
      const ignored = await store.appendToStream(`ignored-${randomUUID()}`, [{ type: 'Noise', data: {} }]);
      await counting.waitForPosition(ignored.position, WAIT_MS);
      expect(await readModel()).toEqual({ applied: 2, seen: 2 });
    });

    it('times out with a typed error when the projection does not get there', async () => {
      const stopped = runner(countingProjection());
      const written = await appendCounted(1);
      const error = await stopped.waitForPosition(written.position, 150).catch((e) => e);
      expect(error).toBeInstanceOf(ProjectionTimeoutError);
      expect(error.code).toBe('PROJECTION_TIMEOUT');
    });

    it('rolls back a failed batch with its checkpoint, then applies every event exactly once', async () => {
      let failures = 2;
      const failing = runner(
        countingProjection({
          failOn: (data) => (data as { i: number }).i === 6 && failures-- > 0,
        }),
      );
      const written = await appendCounted(10);
      failing.start();
      await failing.waitForPosition(written.position, WAIT_MS);
      expect(failures).toBe(-1);
      expect(await readModel()).toEqual({ applied: 10, seen: 10 });
      expect((await failing.checkpoint())?.eventsApplied).toBe(10);
    });

    it('rebuilds from the start with progress, here when no one else holds the projection', async () => {
      const counting = runner(countingProjection(), { maxBatch: 4 });
      await appendCounted(10);
      expect(await counting.catchUp()).toBe(true);
      await db.query('DELETE FROM counting_seen');
      await db.query('UPDATE counting_totals SET applied = 99');

      const progress: RebuildProgress[] = [];
      const result = await rebuildProjection(counting, store, (p) => progress.push(p));
      expect(result).toMatchObject({ projection: 'counting', eventsApplied: 10, where: 'here', done: true, eventsInLog: 10 });
      expect(progress.filter((p) => !p.done).length).toBeGreaterThanOrEqual(2);
      expect(await readModel()).toEqual({ applied: 10, seen: 10 });
    });

    it('rebuilds through the runner that holds the projection, which notices the reset while idle', async () => {
      // A watcher that looks all the time, so that it notices the reset before the rebuild asks for the lock.
      const holding = runner(countingProjection(), { checkpointWatchMs: 1 });
      holding.start();
      const written = await appendCounted(6);
      await holding.waitForPosition(written.position, WAIT_MS);
      await db.query('DELETE FROM counting_seen');

      const other = new ProjectionRunner({ store, db, projection: countingProjection() });
      const result = await rebuildProjection(other, store, undefined, 10000);
      expect(result).toMatchObject({ where: 'elsewhere', done: true });
      expect(await readModel()).toEqual({ applied: 6, seen: 6 });
      const more = await appendCounted(1);
      await holding.waitForPosition(more.position, WAIT_MS);
      expect(await readModel()).toEqual({ applied: 7, seen: 7 });
    });

    it('rebuilds on start when the projection version changed', async () => {
      await appendCounted(3);
      const v1 = runner(countingProjection({ version: 1 }));
      expect(await v1.catchUp()).toBe(true);
      await db.query('UPDATE counting_totals SET applied = 1000');
      const v2 = runner(countingProjection({ version: 2 }));
      expect(await v2.catchUp()).toBe(true);
      expect(await readModel()).toEqual({ applied: 3, seen: 3 });
      expect(await v2.checkpoint()).toMatchObject({ version: 2, eventsApplied: 3 });
    });

    it('stops at once, even right after starting, and lets go of the projection', async () => {
      // Every wait of the runner's is a minute long: a stop that sat one out would take that long.
      const counting = runner(countingProjection(), { lockRetryMs: 60000, retryDelayMs: 60000, checkpointWatchMs: 60000 });
      counting.start();
      const started = Date.now();
      await counting.stop();
      expect(Date.now() - started).toBeLessThan(20000);
      expect(counting.isActive).toBe(false);
      const next = runner(countingProjection());
      expect(await next.catchUp()).toBe(true);
    });

    it('starts again when start() follows a stop() still under way', async () => {
      const counting = runner(countingProjection());
      counting.start();
      await eventually(() => expect(counting.isActive).toBe(true));
      const stopping = counting.stop();
      counting.start();
      await stopping;
      const written = await appendCounted(2);
      await counting.waitForPosition(written.position, WAIT_MS);
      expect(await readModel()).toEqual({ applied: 2, seen: 2 });
    });

    it('catches up to the end of the log as it stood, even while writes go on', async () => {
      const counting = runner(countingProjection(), { maxBatch: 5 });
      const before = await appendCounted(30);
      let writing = true;
      const writer = (async () => {
        // Back to back: the database lets the runner's timers in between the writes.
        while (writing) await store.appendToStream(`counted-${randomUUID()}`, [{ type: 'Counted', data: {} }]);
      })();
      try {
        expect(await counting.catchUp()).toBe(true);
      } finally {
        writing = false;
        await writer;
      }
      const checkpoint = await counting.checkpoint();
      expect(store.comparePositions(checkpoint!.position!, before.position)).toBeGreaterThanOrEqual(0);
      expect(checkpoint!.eventsApplied).toBeGreaterThanOrEqual(30);
    });

    it('rebuilds through a runner of this same process while it runs', async () => {
      const counting = runner(countingProjection());
      counting.start();
      const written = await appendCounted(5);
      await counting.waitForPosition(written.position, WAIT_MS);
      await db.query('DELETE FROM counting_seen');
      const result = await rebuildProjection(counting, store, undefined, 10000);
      expect(result).toMatchObject({ done: true, eventsApplied: 5 });
      expect(await readModel()).toEqual({ applied: 5, seen: 5 });
    });

    it('lets one runner apply a projection at a time; another takes over from the checkpoint when it stops', async () => {
      const first = runner(countingProjection());
      const second = runner(countingProjection());
      first.start();
      await eventually(() => expect(first.isActive).toBe(true));
      second.start();
      const before = await appendCounted(4);
      await first.waitForPosition(before.position, WAIT_MS);
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(second.isActive).toBe(false);

      await first.stop();
      const after = await appendCounted(3);
      await eventually(() => expect(second.isActive).toBe(true));
      await second.waitForPosition(after.position, WAIT_MS);
      expect(await readModel()).toEqual({ applied: 7, seen: 7 });
    });
  });
}
