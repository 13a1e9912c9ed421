import type { PgDatabase } from '../../src/sql/pg-database';
import { describeWithPostgres, dropTestSchemas, newSchemaName, openPostgres } from '../support/databases';

/** The server processes holding this schema's advisory locks, as PostgreSQL reports them. */
async function lockHolders(db: PgDatabase, schema: string): Promise<number[]> {
  const rows = await db.query<{ pid: number }>(
    `SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid::bigint = (hashtext($1)::bigint & 4294967295)`,
    [schema],
  );
  return rows.map((row) => row.pid);
}

describeWithPostgres('leases (tryLock) on a PostgreSQL server', () => {
  afterAll(dropTestSchemas);

  it('holds all of a process’s leases on one connection, each name once across processes and within one', async () => {
    const schema = newSchemaName();
    const [a, b] = await Promise.all([openPostgres(schema), openPostgres(schema)]);
    try {
      const names = Array.from({ length: 30 }, (_, i) => `lease-${i}`);
      const held = await Promise.all(names.map((name) => a.tryLock(name)));
      expect(held.every((lease) => lease !== null)).toBe(true);
      expect(await lockHolders(a, schema)).toHaveLength(1);
      // Another process is refused every one; so is this process, although the server would let its own session in again.
      expect(await Promise.all(names.map((name) => b.tryLock(name)))).toEqual(names.map(() => null));
      expect(await Promise.all(names.map((name) => a.tryLock(name)))).toEqual(names.map(() => null));
      expect(await lockHolders(a, schema)).toHaveLength(1);

      await held[0]!.release();
      const taken = await b.tryLock(names[0]);
      expect(taken).not.toBeNull();
      expect(await a.tryLock(names[0])).toBeNull();
      await taken!.release();
      const again = await a.tryLock(names[0]);
      expect(again).not.toBeNull();
      await Promise.all([again!, ...held.slice(1)].map((lease) => lease!.release()));
      expect(await lockHolders(a, schema)).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('tells every holder when the connection drops, lets others take the leases, and opens a new session for the next', async () => {
    const schema = newSchemaName();
    const [a, b] = await Promise.all([openPostgres(schema), openPostgres(schema)]);
    try {
      const [p, q] = await Promise.all([a.tryLock('p'), a.tryLock('q')]);
      expect(p && q).not.toBeNull();
      const [pid] = await lockHolders(a, schema);
      await b.query('SELECT pg_terminate_backend($1)', [pid]);
      // Both resolve: a test that hangs here fails on jest's timeout.
      await Promise.all([p!.lost, q!.lost]);

      const [bp, bq] = await Promise.all([b.tryLock('p'), b.tryLock('q')]);
      expect(bp && bq).not.toBeNull();
      expect(await a.tryLock('p')).toBeNull();
      // A release after the loss lets nothing go: b still holds p.
      await p!.release();
      expect(await a.tryLock('p')).toBeNull();

      const r = await a.tryLock('r');
      expect(r).not.toBeNull();
      const holders = await lockHolders(a, schema);
      expect(holders).toHaveLength(2);
      expect(holders).not.toContain(pid);
      await Promise.all([r!.release(), bp!.release(), bq!.release()]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('lets every lease go when the database is closed, and tells their holders', async () => {
    const schema = newSchemaName();
    const [a, b] = await Promise.all([openPostgres(schema), openPostgres(schema)]);
    try {
      const lease = await a.tryLock('closing');
      expect(lease).not.toBeNull();
      await a.close();
      await lease!.lost;
      const taken = await b.tryLock('closing');
      expect(taken).not.toBeNull();
      await taken!.release();
    } finally {
      await b.close();
    }
  });
});
