import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { productProjection } from '../../projections';
import { migrateCheckpoints, prepareProjection, readCheckpoint } from '../../src/core/checkpoints';
import { inlineProjectionHook } from '../../src/core/inline-projection';
import type { Projection } from '../../src/core/projection';
import { ProjectionRunner } from '../../src/core/projection-runner';
import { rebuildProjection } from '../../src/core/rebuild';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { SqlDatabase, SqlTransaction } from '../../src/sql/database';
import { countingProjection } from '../fixtures/counting.projection';
import { spawnTs } from '../support/child';
import { describeWithPostgres, dropTestSchemas, newSchemaName, openPostgres, testDatabases } from '../support/databases';
import { eventually } from '../support/eventually';
import { readable } from '../support/readable';
import { testDatabaseUrl } from '../support/postgres-url';
import { productLog, tablesOf } from './product-log';

/** Runners made here, stopped after each test whatever its outcome, before its database closes. */
const runners: ProjectionRunner[] = [];
afterAll(dropTestSchemas);

/** A store whose appends keep the projection inline once its runner hands it over, and that runner. */
async function inlineSetup(db: SqlDatabase, projection: Projection) {
  await migrateCheckpoints(db);
  const store = await SqlEventStore.open(db, { appendHook: inlineProjectionHook(projection), pollIntervalMs: 20 });
  const runner = new ProjectionRunner({ store, db, projection, inline: store, maxBatch: 100, lockRetryMs: 50, checkpointWatchMs: 100 });
  runners.push(runner);
  return { store, runner };
}

async function handedOver(db: SqlDatabase, name: string): Promise<void> {
  await eventually(async () => expect((await readCheckpoint(db, name))?.inline).toBe(true), 30_000);
}

/** A transaction that runs `first` and then stays open until let go; `done` settles when it has ended. */
async function heldOpen(db: SqlDatabase, first: (tx: SqlTransaction) => Promise<unknown>) {
  let letGo!: () => void;
  const held = new Promise<void>((resolve) => (letGo = resolve));
  let begun!: () => void;
  const open = new Promise<void>((resolve) => (begun = resolve));
  const done = db.transaction(async (tx) => {
    await first(tx);
    begun();
    await held;
  });
  await Promise.race([open, done]);
  return { letGo, done };
}

/** After a test with a transaction held open: lets it go, stops the runners and closes the database. */
async function endHeld(db: SqlDatabase, held: { letGo(): void; done: Promise<void> } | undefined): Promise<void> {
  held?.letGo();
  await held?.done.catch(() => undefined);
  await Promise.all(runners.splice(0).map((runner) => runner.stop()));
  await db.close();
}

/** Each counting event applied once: every event of the log is in the read model, and the count agrees. */
async function expectEachAppliedOnce(db: SqlDatabase): Promise<number> {
  const [row] = await db.query<{ logged: string; seen: string; missing: string; applied: string }>(
    `SELECT (SELECT count(*) FROM events WHERE stream LIKE 'counted-%')::text AS logged,
            (SELECT count(*) FROM counting_seen)::text AS seen,
            (SELECT count(*) FROM events e WHERE e.stream LIKE 'counted-%' AND NOT EXISTS (SELECT 1 FROM counting_seen s WHERE s.event_id = e.id))::text AS missing,
            (SELECT applied FROM counting_totals)::text AS applied`,
  );
  expect(row.missing).toBe('0');
  expect(row.seen).toBe(row.logged);
  expect(row.applied).toBe(row.logged);
  return Number(row.logged);
}

/** Writers appending one event at a time to streams of their own until stopped. */
function writers(store: SqlEventStore, count: number) {
  let stopped = false;
  let appended = 0;
  const done = Promise.all(
    Array.from({ length: count }, async (_, writer) => {
      const stream = `counted-w${writer}-${randomUUID()}`;
      while (!stopped) {
        await store.appendToStream(stream, [{ type: 'Counted', data: { i: appended } }]);
        appended += 1;
        // A steady load the runner can outpace, as it must to catch up at all.
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }),
  );
  return {
    get appended() {
      return appended;
    },
    async stop() {
      stopped = true;
      await done;
    },
  };
}

for (const database of testDatabases) {
  describe(`a read model kept inline on ${database.name}`, () => {
    let db: SqlDatabase;
    beforeEach(async () => {
      db = await database.open();
    });
    afterEach(async () => {
      await Promise.all(runners.splice(0).map((runner) => runner.stop()));
      await db.close();
    });

    it('is built by its runner, handed over to the appends while writers append, and holds each event once', async () => {
      const projection = countingProjection();
      const { store, runner } = await inlineSetup(db, projection);
      // Before the hand-over, the runner applies them: the appends say they kept nothing.
      expect((await store.appendToStream(`counted-${randomUUID()}`, [{ type: 'Counted', data: {} }])).inlineReadModel).toBeUndefined();
      for (let i = 0; i < 4; i++)
        await store.appendToStream(
          `counted-${randomUUID()}`,
          Array.from({ length: 50 }, (_, k) => ({ type: 'Counted', data: { k } })),
        );
      const load = writers(store, 3);
      runner.start();
      let duringHandOver: number;
      try {
        await eventually(() => expect(load.appended).toBeGreaterThan(20), 30_000);
        await handedOver(db, projection.name);
        duringHandOver = load.appended;
        await eventually(() => expect(load.appended).toBeGreaterThan(duringHandOver + 30), 30_000);
      } finally {
        await load.stop();
      }
      // Inline: an append's answer comes with its row, no runner in between.
      const { position, inlineReadModel } = await store.appendToStream(`counted-${randomUUID()}`, [{ type: 'Counted', data: { last: true } }]);
      expect(inlineReadModel).toBe(projection.name);
      expect(
        await db.query("SELECT 1 FROM counting_seen s JOIN events e ON e.id = s.event_id WHERE e.tx_id::text || '-' || e.seq::text = $1", [position]),
      ).toHaveLength(1);
      await runner.waitForPosition(position, 1);
      expect(await expectEachAppliedOnce(db)).toBeGreaterThan(230);

      // A rebuild hands it back to the runner, which replays the log and hands it over again, writers or not.
      const again = writers(store, 3);
      try {
        await runner.reset();
        expect((await readCheckpoint(db, projection.name))?.inline).toBe(false);
        await handedOver(db, projection.name);
      } finally {
        await again.stop();
      }
      await expectEachAppliedOnce(db);
    }, 120_000);

    const bad = (data: unknown) => (data as { bad?: boolean }).bad === true;
    it.each([
      ['refuses its event (in Node)', { failOn: bad }, /refusing event/],
      ['makes statements the database refuses', { refusedOn: bad }, /division by zero/],
    ])(
      'undoes an append whose read model %s, and only that one of a group',
      async (_what, options, reason) => {
        const projection = countingProjection(options);
        const { store, runner } = await inlineSetup(db, projection);
        expect(await runner.catchUp()).toBe(true);
        expect((await readCheckpoint(db, projection.name))?.inline).toBe(true);
        const streams = Array.from({ length: 6 }, () => `counted-${randomUUID()}`);
        // Sent at once: the first four go each in a call of its own (appendsInFlight), the last two
        // together, as one group, whose read model statements the commit follows without waiting for their answers.
        const outcomes = await Promise.allSettled(streams.map((stream, n) => store.appendToStream(stream, [{ type: 'Counted', data: { bad: n === 5 } }])));
        expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
        expect(String((outcomes[5] as PromiseRejectedResult).reason)).toMatch(reason);
        expect(await store.readStream(streams[5])).toEqual([]);
        expect(await expectEachAppliedOnce(db)).toBe(5);
      },
      60_000,
    );

    it('refuses an append inside a transaction that does not take a snapshot per statement, and writes nothing', async () => {
      const projection = countingProjection();
      const { store, runner } = await inlineSetup(db, projection);
      expect(await runner.catchUp()).toBe(true);
      const stream = `counted-${randomUUID()}`;
      await expect(
        db.transaction(async (tx) => {
          await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
          await store.appendWithin(tx, stream, [{ type: 'Counted', data: {} }]);
        }),
      ).rejects.toThrow(/READ COMMITTED/i);
      expect(await store.readStream(stream)).toEqual([]);
      // At READ COMMITTED, the same append inside a caller's transaction keeps the read model with it.
      await db.transaction((tx) => store.appendWithin(tx, stream, [{ type: 'Counted', data: {} }]));
      expect(await expectEachAppliedOnce(db)).toBe(1);
    });

    it('knows an append readable at once only where readers read it already', async () => {
      const projection = countingProjection();
      const { store, runner } = await inlineSetup(db, projection);
      expect(await runner.catchUp()).toBe(true);
      let known = 0;
      for (let i = 0; i < 20; i++) {
        const { position } = await store.appendToStream(`counted-${randomUUID()}`, [{ type: 'Counted', data: { i } }]);
        if (!store.knownReadable(position)) continue;
        known += 1;
        expect(store.comparePositions((await store.headPosition())!, position)).toBeGreaterThanOrEqual(0);
      }
      // PGlite runs one transaction at a time: none older is ever open. A server may have others' open.
      if (database.name === 'pglite') expect(known).toBe(20);
    });

    it('gives the same tables as a rebuild of the log, with two tenants writing at once', async () => {
      const { store, runner } = await inlineSetup(db, productProjection);
      expect(await runner.catchUp()).toBe(true);
      const appends = productLog(43, 120);
      const tenants = [...new Set(appends.map((append) => append.events[0].metadata!.tenantId as string))];
      // Each tenant's appends in their order; the tenants' side by side.
      await Promise.all(
        tenants.map(async (tenant) => {
          for (const { stream, events } of appends.filter((append) => append.events[0].metadata!.tenantId === tenant)) {
            await store.appendToStream(stream, events);
          }
        }),
      );
      const inline = await tablesOf(db, productProjection);
      expect(Object.values(inline).filter((rows) => rows.length > 0).length).toBeGreaterThan(5);
      const rebuilt = await rebuildProjection(new ProjectionRunner({ store, db, projection: productProjection, inline: store }), store);
      expect(rebuilt.done).toBe(true);
      expect(await tablesOf(db, productProjection)).toEqual(inline);
    }, 120_000);
  });
}

describeWithPostgres('beside a transaction held open (PostgreSQL server)', () => {
  let db: SqlDatabase;
  let held: Awaited<ReturnType<typeof heldOpen>> | undefined;
  const projection = countingProjection();
  beforeEach(async () => {
    db = await openPostgres();
    held = undefined;
  });
  afterEach(() => endHeld(db, held));

  it('a hand-over waits a bounded time, lets the appends go, and hands over once the long one has committed', async () => {
    const { store, runner } = await inlineSetup(db, projection);
    // Its tables made beforehand, as on any start but the first: a first start's reset would wait (10 s) for the long append too.
    await prepareProjection(db, projection);
    // A caller's transaction that appends, then holds on for longer than a hand-over waits.
    const long = await heldOpen(db, (tx) => store.appendWithin(tx, `counted-${randomUUID()}`, [{ type: 'Counted', data: { long: true } }]));
    held = long;
    runner.start();
    // The hand-over gives up after its wait and tries again later, so other appends still go through meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const started = Date.now();
    await store.appendToStream(`counted-${randomUUID()}`, [{ type: 'Counted', data: {} }]);
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await readCheckpoint(db, projection.name))?.inline).toBe(false);
    long.letGo();
    await long.done;
    await handedOver(db, projection.name);
    expect(await expectEachAppliedOnce(db)).toBe(2);
  }, 60_000);

  it('an append is not known readable while an older transaction is open, and is once a look finds it readable', async () => {
    const { store, runner } = await inlineSetup(db, projection);
    expect(await runner.catchUp()).toBe(true);
    // A transaction with an id older than the append's, held open.
    const older = await heldOpen(db, (tx) => tx.query('SELECT pg_current_xact_id()'));
    held = older;
    const { position, inlineReadModel } = await store.appendToStream(`counted-${randomUUID()}`, [{ type: 'Counted', data: {} }]);
    expect(inlineReadModel).toBe(projection.name);
    expect(store.knownReadable(position)).toBe(false);
    const head = await store.headPosition();
    expect(head === null || store.comparePositions(head, position) < 0).toBe(true);
    older.letGo();
    await older.done;
    await readable(store, position);
    expect(store.knownReadable(position)).toBe(true);
  }, 60_000);
});

describeWithPostgres('an append killed with its process (PostgreSQL server)', () => {
  it('leaves both its event and its rows, or neither: nothing lost, nothing applied twice', async () => {
    const schema = newSchemaName();
    const db = await openPostgres(schema);
    try {
      const projection = countingProjection();
      const { runner } = await inlineSetup(db, projection);
      expect(await runner.catchUp()).toBe(true);
      const child = spawnTs(join(__dirname, '../fixtures/append-inline.ts'), [testDatabaseUrl(), schema]);
      await child.waitFor(/^appended 200$/, 60_000);
      child.process.kill('SIGKILL');
      await child.exited;
      const appended = await expectEachAppliedOnce(db);
      expect(appended).toBeGreaterThanOrEqual(400);
      // Its appends were answered or not: a new process carries on inline, and a rebuild agrees.
      const { store, runner: next } = await inlineSetup(db, projection);
      await store.appendToStream(`counted-${randomUUID()}`, [{ type: 'Counted', data: { after: true } }]);
      expect(await expectEachAppliedOnce(db)).toBe(appended + 1);
      const inline = await tablesOf(db, projection);
      await rebuildProjection(next, store);
      expect(await tablesOf(db, projection)).toEqual(inline);
    } finally {
      await Promise.all(runners.splice(0).map((runner) => runner.stop()));
      await db.close();
    }
  }, 120_000);
});
