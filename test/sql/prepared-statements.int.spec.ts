import type { SqlDatabase } from '../../src/sql/database';
import { describeWithPostgres, dropTestSchemas, openPostgres, pglite, postgresAvailable, type TestDatabase } from '../support/databases';

afterAll(dropTestSchemas);

/**
 * Statements marked `prepared` are kept parsed and planned on each connection under a name made
 * from their text. On PostgreSQL the pool has one connection, so that what one call leaves on the
 * connection is what the next one finds.
 */
describeWithPostgres('statements kept prepared on PostgreSQL', () => {
  let db: SqlDatabase;
  beforeAll(async () => {
    db = await openPostgres(undefined, 1);
    await db.exec('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
  });
  afterAll(() => db.close());
  beforeEach(() => db.exec('DELETE FROM notes'));

  /** The connection's prepared statements of these texts, as the server keeps them. */
  const preparedOnServer = (texts: string[]) =>
    db.query<{ name: string; statement: string; runs: number }>(
      'SELECT name, statement, (generic_plans + custom_plans)::int AS runs FROM pg_prepared_statements WHERE statement = ANY($1) ORDER BY statement',
      [texts],
    );

  it('are planned once per connection under a name that only their text has, whether queried or sent', async () => {
    const insert = 'INSERT INTO notes (id, body) VALUES ($1, $2)';
    const select = 'SELECT body FROM notes WHERE id = $1';
    await db.query(insert, [1, 'one'], { prepared: true });
    await db.transaction(async (tx) => {
      void tx.send(insert, [2, 'two'], { prepared: true });
      expect(await tx.query(select, [2], { prepared: true })).toEqual([{ body: 'two' }]);
    });
    expect(await db.query(select, [1], { prepared: true })).toEqual([{ body: 'one' }]);
    // An unmarked statement of the same text is not kept.
    expect(await db.query(select, [2])).toEqual([{ body: 'two' }]);

    const kept = await preparedOnServer([insert, select]);
    expect(kept.map((row) => [row.statement, row.runs])).toEqual([
      [insert, 2],
      [select, 2],
    ]);
    for (const row of kept) expect(row.name).toMatch(/^backplane_[0-9a-f]{32}$/);
    expect(kept[0].name).not.toBe(kept[1].name);
  });

  it('stay usable after their first run failed or was rolled back', async () => {
    const select = 'SELECT count(*)::int AS n FROM notes WHERE body = $1';
    const insert = 'INSERT INTO notes (id, body) VALUES ($1, $2)';
    const error = await db
      .transaction(async (tx) => {
        void tx.send("INSERT INTO notes VALUES (1, 'first')");
        void tx.send("INSERT INTO notes VALUES (1, 'first again')");
        // Made for the first time in a transaction already failed: the server refuses to parse it.
        await tx.query(select, ['first'], { prepared: true });
      })
      .catch((e: unknown) => e);
    expect(String(error)).toMatch(/duplicate key value violates unique constraint "notes_pkey"/);
    expect(await db.query(select, ['first'], { prepared: true })).toEqual([{ n: 0 }]);

    // Parsed in a transaction that then rolled back: the server keeps it all the same.
    const rolledBack = await db
      .transaction(async (tx) => {
        await tx.query(insert, [2, 'second'], { prepared: true });
        throw new Error('given up');
      })
      .catch((e: unknown) => e);
    expect(String(rolledBack)).toMatch(/given up/);
    await db.query(insert, [3, 'third'], { prepared: true });
    expect(await db.query('SELECT id, body FROM notes ORDER BY id')).toEqual([{ id: 3, body: 'third' }]);
  });

  it('stay usable after node-postgres could not write a value of one (the connection it told to forget them goes)', async () => {
    const insert = 'INSERT INTO notes (id, body) VALUES ($1, $2)';
    await db.query(insert, [1, 'prepared'], { prepared: true });
    for (const send of [true, false]) {
      const error = await db
        .transaction(async (tx) => {
          // A BigInt inside a JSON value: node-postgres fails to write it, and closes the prepared statement on the server.
          if (send) void tx.send(insert, [2, { unwritable: 1n }], { prepared: true });
          else await tx.query(insert, [2, { unwritable: 1n }], { prepared: true });
        })
        .catch((e: unknown) => e);
      expect(String(error)).toMatch(/BigInt/);
      await db.transaction((tx) => tx.query(insert, [send ? 3 : 4, 'after'], { prepared: true }));
    }
    expect(await db.query('SELECT id, body FROM notes ORDER BY id')).toEqual([
      { id: 1, body: 'prepared' },
      { id: 3, body: 'after' },
      { id: 4, body: 'after' },
    ]);
  });

  it('made before their table existed, work once it does', async () => {
    const select = 'SELECT count(*)::int AS n FROM later_notes';
    await expect(db.query(select, [], { prepared: true })).rejects.toThrow(/relation "later_notes" does not exist/);
    await db.exec('CREATE TABLE later_notes (id int)');
    expect(await db.query(select, [], { prepared: true })).toEqual([{ n: 0 }]);
  });
});

/** A read model reset drops its tables and makes them anew while the service runs: statements kept prepared over them must go on working. */
const databases: TestDatabase[] = [pglite, ...(postgresAvailable ? [{ name: 'postgres' as const, open: () => openPostgres(undefined, 1) }] : [])];

for (const database of databases) {
  describe(`a statement kept prepared on ${database.name}`, () => {
    let db: SqlDatabase;
    beforeAll(async () => {
      db = await database.open();
    });
    afterAll(() => db.close());

    it('reads a table dropped and made anew as it now is', async () => {
      const make = 'CREATE TABLE remade (id int PRIMARY KEY, body text NOT NULL)';
      const select = 'SELECT id, body FROM remade ORDER BY id';
      await db.exec(make);
      await db.query("INSERT INTO remade VALUES (1, 'before')");
      expect(await db.query(select, [], { prepared: true })).toEqual([{ id: 1, body: 'before' }]);
      await db.transaction(async (tx) => {
        await tx.query('DROP TABLE remade');
        await tx.query(make);
        void tx.send("INSERT INTO remade VALUES (2, 'after')", [], { prepared: true });
      });
      expect(await db.query(select, [], { prepared: true })).toEqual([{ id: 2, body: 'after' }]);
    });
  });
}
