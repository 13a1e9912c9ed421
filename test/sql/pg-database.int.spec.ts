import { ProjectionRunner } from '../../src/core/projection-runner';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import { countingProjection } from '../fixtures/counting.projection';
import { LockTimeoutError } from '../../src/sql/database';
import { PgDatabase } from '../../src/sql/pg-database';
import { testDatabaseUrl } from '../support/postgres-url';
import { describeWithPostgres, dropTestSchemas, newSchemaName, openPostgres } from '../support/databases';

describeWithPostgres('PostgreSQL server connections', () => {
  afterAll(dropTestSchemas);

  it('reports a connection lost in the middle of a transaction as an error, and goes on', async () => {
    const db = await openPostgres();
    try {
      const error = await db.transaction((tx) => tx.query('SELECT pg_terminate_backend(pg_backend_pid())')).catch((e) => e);
      expect(error).toBeInstanceOf(Error);
      expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });

  it('does not report as committed a transaction that PostgreSQL rolled back', async () => {
    const db = await openPostgres();
    try {
      await db.query('CREATE TABLE notes (id int PRIMARY KEY)');
      const error = await db
        .transaction(async (tx) => {
          await tx.query('INSERT INTO notes VALUES (1)');
          await tx.query('INSERT INTO notes VALUES (1)').catch(() => undefined);
        })
        .catch((e) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error.message).toMatch(/rolled back/);
      expect(await db.query('SELECT * FROM notes')).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('withLock lets one holder at a time in across connections, lets go when fn fails, and gives up after its timeout', async () => {
    const schema = newSchemaName();
    const [a, b] = await Promise.all([openPostgres(schema), openPostgres(schema)]);
    try {
      const order: string[] = [];
      let releaseFirst!: () => void;
      const firstHolds = new Promise<void>((resolve) => (releaseFirst = resolve));
      let firstIn!: () => void;
      const entered = new Promise<void>((resolve) => (firstIn = resolve));
      const first = a.withLock(
        'section',
        async () => {
          order.push('a in');
          firstIn();
          await firstHolds;
          order.push('a out');
        },
        { timeoutMs: 30_000 },
      );
      await entered;
      await expect(b.withLock('section', async () => 'never', { timeoutMs: 50 })).rejects.toBeInstanceOf(LockTimeoutError);
      const second = b.withLock('section', async () => void order.push('b in'), { timeoutMs: 30_000 });
      releaseFirst();
      await Promise.all([first, second]);
      expect(order).toEqual(['a in', 'a out', 'b in']);

      await expect(a.withLock('section', async () => Promise.reject(new Error('refused')), { timeoutMs: 1000 })).rejects.toThrow('refused');
      expect(await b.withLock('section', async () => 'free again', { timeoutMs: 1000 })).toBe('free again');

      // A connection keeps the wait it was last given: a different one asked next must still apply.
      let releaseHolder!: () => void;
      const holderHolds = new Promise<void>((resolve) => (releaseHolder = resolve));
      let holderIn!: () => void;
      const holderEntered = new Promise<void>((resolve) => (holderIn = resolve));
      const holder = a.withLock(
        'section',
        async () => {
          holderIn();
          await holderHolds;
        },
        { timeoutMs: 30_000 },
      );
      await holderEntered;
      await expect(b.withLock('section', async () => 'never', { timeoutMs: 50 })).rejects.toBeInstanceOf(LockTimeoutError);
      const patient = b.withLock('section', async () => 'waited', { timeoutMs: 30_000 });
      // Longer than the 50 ms the connection was set to just before.
      await new Promise((resolve) => setTimeout(resolve, 300));
      releaseHolder();
      await holder;
      expect(await patient).toBe('waited');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('withLock waits for a free lock connection as long as each caller allows, whatever the first caller or the pool allows', async () => {
    // The pool waits at most 2 s for a connection: a caller that allows more waits again.
    const schema = newSchemaName();
    await openPostgres(schema).then((created) => created.close());
    const db = await PgDatabase.connect({ connectionString: testDatabaseUrl(), schema, connectionTimeoutMs: 2000 });
    const letGo: (() => void)[] = [];
    const hold = (name: string) => {
      let enter!: () => void;
      const entered = new Promise<void>((resolve) => (enter = resolve));
      const held = db.withLock(
        name,
        () =>
          new Promise<void>((resolve) => {
            letGo.push(resolve);
            enter();
          }),
        { timeoutMs: 30_000 },
      );
      return { entered, held };
    };
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    try {
      // The first caller allows 1 ms (it may give up); the lock connections are made for every caller after it.
      await db.withLock('first', async () => 'in', { timeoutMs: 1 }).catch((error: unknown) => expect(error).toBeInstanceOf(LockTimeoutError));
      // Every lock connection held (a process holds at most 8 at once).
      const holders = Array.from({ length: 8 }, (_, n) => hold(`held-${n}`));
      await Promise.all(holders.map((holder) => holder.entered));
      // One that allows 100 ms gives up in its time, its request for a connection still queued in the pool.
      await expect(db.withLock('impatient', async () => 'never', { timeoutMs: 100 })).rejects.toBeInstanceOf(LockTimeoutError);
      // A holder lets go: the connection goes to that request first, which gives it back unused, for the next caller.
      const patient = db.withLock('patient', async () => 'in', { timeoutMs: 10_000 });
      await sleep(300);
      letGo[0]();
      expect(await patient).toBe('in');
      // All 8 held again; one that allows 10 s waits longer than the pool does, and gets the next connection let go.
      const ninth = hold('held-8');
      await ninth.entered;
      const longer = db.withLock('longer', async () => 'in at last', { timeoutMs: 10_000 });
      await sleep(2500);
      letGo[1]();
      expect(await longer).toBe('in at last');
      for (const release of letGo) release();
      await Promise.all([...holders, ninth].map((holder) => holder.held));
      // No connection was kept by the callers that gave up or waited again: all 8 can be held at once.
      expect(await Promise.all(Array.from({ length: 8 }, (_, n) => db.withLock(`again-${n}`, async () => n, { timeoutMs: 5000 })))).toEqual([
        0, 1, 2, 3, 4, 5, 6, 7,
      ]);
    } finally {
      for (const release of letGo) release();
      await db.close();
    }
  });

  it('withLock survives its connection dying while fn runs: the caller hears an error, the process goes on, the lock is free again', async () => {
    const schema = newSchemaName();
    const [db, killer] = await Promise.all([openPostgres(schema), openPostgres(schema)]);
    try {
      const outcome = await db
        .withLock(
          'section-drop',
          async () => {
            await killer.query(
              `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
                 AND classid::bigint = (hashtext($1)::bigint & 4294967295) AND objid::bigint = (hashtext($2)::bigint & 4294967295)`,
              [schema, 'section-drop'],
            );
            // Gives the dead connection's error event time to arrive while fn still runs.
            await new Promise((resolve) => setTimeout(resolve, 200));
            return 'done';
          },
          { timeoutMs: 5000 },
        )
        .catch((error) => error);
      expect(outcome).toBeInstanceOf(Error);
      expect(await killer.withLock('section-drop', async () => 'free', { timeoutMs: 5000 })).toBe('free');
      expect(await db.withLock('section-drop', async () => 'again', { timeoutMs: 5000 })).toBe('again');
    } finally {
      await Promise.all([db.close(), killer.close()]);
    }
  });

  it('withLocks lets shared holders in together from two processes, an exclusive one after them, and lets go of all it took when it gives up', async () => {
    const schema = newSchemaName();
    const [a, b] = await Promise.all([openPostgres(schema), openPostgres(schema)]);
    let releaseA: (() => void) | undefined;
    try {
      const order: string[] = [];
      const aHolds = new Promise<void>((resolve) => (releaseA = resolve));
      let aIn!: () => void;
      const aEntered = new Promise<void>((resolve) => (aIn = resolve));
      const first = a.withLocks(
        [{ name: 'tenant', shared: true }, { name: 'tenant:c1' }],
        async () => {
          aIn();
          await aHolds;
          order.push('a out');
        },
        { timeoutMs: 30_000 },
      );
      await aEntered;
      // Another thing of the tenant: side by side.
      expect(await b.withLocks([{ name: 'tenant', shared: true }, { name: 'tenant:c2' }], async () => 'c2 beside', { timeoutMs: 5000 })).toBe('c2 beside');
      // The same thing: it waits, takes the shared lock, gives up on the own one, and lets the shared one go.
      await expect(b.withLocks([{ name: 'tenant', shared: true }, { name: 'tenant:c1' }], async () => 'never', { timeoutMs: 100 })).rejects.toBeInstanceOf(
        LockTimeoutError,
      );
      const heldNow = async () =>
        (
          await a.query<{ held: string }>(
            `SELECT count(*)::text AS held FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid::bigint = (hashtext($1)::bigint & 4294967295)`,
            [schema],
          )
        )[0].held;
      // The first holder's two, and nothing the one that gave up had taken.
      expect(await heldNow()).toBe('2');
      const alone = b.withLocks([{ name: 'tenant' }], async () => void order.push('alone in'), { timeoutMs: 30_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(order).toEqual([]);
      releaseA?.();
      await Promise.all([first, alone]);
      expect(order).toEqual(['a out', 'alone in']);
      // Nothing is left held by either side.
      expect(await heldNow()).toBe('0');
    } finally {
      releaseA?.();
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('keeps projection locks of deployments in separate schemas apart', async () => {
    const [a, b] = await Promise.all([openPostgres(), openPostgres()]);
    const runners = await Promise.all(
      [a, b].map(async (db) => new ProjectionRunner({ store: await SqlEventStore.open(db), db, projection: countingProjection(), lockRetryMs: 50 })),
    );
    try {
      runners.forEach((runner) => {
        runner.start();
      });
      const deadline = Date.now() + 10000;
      while (!runners.every((runner) => runner.isActive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(runners.map((runner) => runner.isActive)).toEqual([true, true]);
    } finally {
      await Promise.all(runners.map((runner) => runner.stop()));
      await Promise.all([a.close(), b.close()]);
    }
  });
});
