import { ProjectionRunner } from '../../src/core/projection-runner';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import { countingProjection } from '../fixtures/counting.projection';
import { LockTimeoutError } from '../../src/sql/database';
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
