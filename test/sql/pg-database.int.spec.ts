import { ProjectionRunner } from '../../src/core/projection-runner';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import { countingProjection } from '../fixtures/counting.projection';
import { describeWithPostgres, dropTestSchemas, openPostgres } from '../support/databases';

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

  it('keeps projection locks of deployments in separate schemas apart', async () => {
    const [a, b] = await Promise.all([openPostgres(), openPostgres()]);
    const runners = await Promise.all(
      [a, b].map(async (db) => new ProjectionRunner({ store: await SqlEventStore.open(db), db, projection: countingProjection(), lockRetryMs: 50 })),
    );
    try {
      runners.forEach((runner) => runner.start());
      const deadline = Date.now() + 10000;
      while (!runners.every((runner) => runner.isActive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(runners.map((runner) => runner.isActive)).toEqual([true, true]);
    } finally {
      await Promise.all(runners.map((runner) => runner.stop()));
      await Promise.all([a.close(), b.close()]);
    }
  });
});
