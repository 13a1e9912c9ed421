import type { Client } from 'pg';
import type { SqlDatabase } from '../../src/sql/database';
import { MigrationLockError, migrate } from '../../src/sql/migrate';
import { describeWithPostgres, dropTestSchemas, openPostgres, otherSession } from '../support/databases';

afterAll(dropTestSchemas);

const ADD_COLUMN = [['ALTER TABLE held ADD COLUMN b integer']];

describeWithPostgres('a schema migration behind another session that holds its table', () => {
  let db: SqlDatabase;
  /** Another process's session, in a transaction that read the table and has not ended: its lock stays. */
  let holder: Client;
  let reader: Client;

  async function columns(): Promise<string[]> {
    const rows = await db.query<{ name: string }>(
      "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'held' ORDER BY ordinal_position",
    );
    return rows.map((row) => row.name);
  }

  async function version(component: string): Promise<number | null> {
    const [row] = await db.query<{ version: number }>('SELECT version FROM schema_versions WHERE component = $1', [component]);
    return row?.version ?? null;
  }

  beforeEach(async () => {
    db = await openPostgres();
    await db.exec('CREATE TABLE held (a integer); INSERT INTO held VALUES (1)');
    // The versions' table, as another component's migration leaves it.
    expect(await migrate(db, 'other', [])).toBe(0);
    holder = await otherSession(db);
    reader = await otherSession(db);
    await holder.query('BEGIN');
    await holder.query('SELECT count(*) FROM held');
  });
  afterEach(async () => {
    await holder.end();
    await reader.end();
    await db.close();
  });

  it('lets go and tries again rather than hold every other statement on the table behind it, and migrates once the table is free', async () => {
    // Held behind the migration, a read would fail here rather than wait for the holder, which only the test ends.
    await reader.query("SET statement_timeout = '3s'");
    const migrated = migrate(db, 'held-test', ADD_COLUMN, { lockTimeoutMs: 150 });
    // Reads by other sessions go through while the migration waits its turn: PostgreSQL queues them
    // behind a lock that is waited for, so a migration waiting on would hold them until the holder ends.
    const reads: number[] = [];
    for (let n = 0; n < 6; n++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = Date.now();
      await reader.query('SELECT count(*) FROM held');
      reads.push(Date.now() - started);
    }
    expect(reads).toHaveLength(6);
    expect(await columns()).toEqual(['a']);
    expect(await version('held-test')).toBeNull();

    await holder.query('COMMIT');
    expect(await migrated).toBe(1);
    expect(await columns()).toEqual(['a', 'b']);
    expect(await version('held-test')).toBe(1);
  });

  it('gives up after its deadline with an error that says why, having changed nothing', async () => {
    const error = await migrate(db, 'held-test', ADD_COLUMN, { lockTimeoutMs: 100, deadlineMs: 700 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MigrationLockError);
    expect((error as MigrationLockError).code).toBe('MIGRATION_LOCKED');
    expect((error as Error).message).toMatch(/^held-test: the schema migration could not take its tables' locks in \d+ s: other sessions kept them/);
    expect(await columns()).toEqual(['a']);
    expect(await version('held-test')).toBeNull();
  });

  it('takes no lock of the tables when there is nothing to migrate', async () => {
    await holder.query('COMMIT');
    expect(await migrate(db, 'held-test', ADD_COLUMN)).toBe(1);
    // Held again, in a way that conflicts with any lock of the table.
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE held IN ACCESS EXCLUSIVE MODE');
    expect(await migrate(db, 'held-test', ADD_COLUMN, { lockTimeoutMs: 50, deadlineMs: 0 })).toBe(1);
  });

  it("waits for each lock, by default, a second past the server's deadlock_timeout, after which PostgreSQL cancels an autovacuum in its way", async () => {
    const [{ ms }] = await db.query<{ ms: number }>("SELECT (extract(epoch FROM current_setting('deadlock_timeout')::interval) * 1000)::int AS ms");
    const started = Date.now();
    await expect(migrate(db, 'held-test', ADD_COLUMN, { deadlineMs: 0 })).rejects.toBeInstanceOf(MigrationLockError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(ms + 1000 - 50);
    for (const lockTimeoutMs of [0, 1.5]) {
      await expect(migrate(db, 'held-test', ADD_COLUMN, { lockTimeoutMs })).rejects.toThrow(/lockTimeoutMs must be a whole number of 1 or more/);
    }
    expect(await columns()).toEqual(['a']);
  });
});
