import type { SqlDatabase } from '../../src/sql/database';
import { dropTestSchemas, openPostgres, pglite, postgresAvailable, type TestDatabase } from '../support/databases';

afterAll(dropTestSchemas);

/**
 * Statements sent in a transaction (SqlTransaction.send) go without waiting for their answers:
 * the next statement queried and the commit wait for them, and a failure among them is the
 * transaction's. On PostgreSQL the pool has one connection, so that every case also shows the
 * connection clean for the next transaction.
 */
const databases: TestDatabase[] = [pglite, ...(postgresAvailable ? [{ name: 'postgres' as const, open: () => openPostgres(undefined, 1) }] : [])];

for (const database of databases) {
  describe(`statements sent in a transaction on ${database.name}`, () => {
    let db: SqlDatabase;
    beforeAll(async () => {
      db = await database.open();
      await db.exec('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
    });
    afterAll(() => db.close());
    beforeEach(() => db.exec('DELETE FROM notes'));

    const notes = () => db.query<{ id: number; body: string }>('SELECT id, body FROM notes ORDER BY id');

    it('run in the order sent, before the statement queried after them, and commit with the transaction', async () => {
      const seen = await db.transaction(async (tx) => {
        void tx.send('INSERT INTO notes VALUES (1, $1)', ['first']);
        void tx.send("UPDATE notes SET body = body || ', then second' WHERE id = 1");
        void tx.send('INSERT INTO notes VALUES (2, $1)', ['third']);
        return tx.query<{ body: string }>('SELECT body FROM notes ORDER BY id');
      });
      expect(seen.map((row) => row.body)).toEqual(['first, then second', 'third']);
      await db.transaction(async (tx) => {
        void tx.send('INSERT INTO notes VALUES (3, $1)', ['sent last, committed behind it']);
      });
      expect(await notes()).toEqual([
        { id: 1, body: 'first, then second' },
        { id: 2, body: 'third' },
        { id: 3, body: 'sent last, committed behind it' },
      ]);
    });

    it('fail the transaction with the first failure among them, and leave nothing written', async () => {
      const error = await db
        .transaction(async (tx) => {
          await tx.query("INSERT INTO notes VALUES (1, 'queried before')");
          void tx.send("INSERT INTO notes VALUES (2, 'sent')");
          void tx.send("INSERT INTO notes VALUES (2, 'sent twice')");
          void tx.send("INSERT INTO notes VALUES (3, 'sent after the failure')");
        })
        .catch((e: unknown) => e);
      expect(String(error)).toMatch(/duplicate key value violates unique constraint "notes_pkey"/);
      expect(await notes()).toEqual([]);
    });

    it('fail a statement queried after a failed one with its failure, and the commit too when the caller catches it', async () => {
      let queried: unknown;
      const error = await db
        .transaction(async (tx) => {
          void tx.send('SELECT 1 / 0');
          queried = await tx.query("INSERT INTO notes VALUES (1, 'after the failure')").catch((e: unknown) => e);
        })
        .catch((e: unknown) => e);
      expect(String(queried)).toMatch(/division by zero/);
      expect(String(error)).toMatch(/division by zero/);
      expect(await notes()).toEqual([]);
    });

    it('are answered when awaited with nothing after them', async () => {
      let failed: unknown;
      const error = await db
        .transaction(async (tx) => {
          await tx.send("INSERT INTO notes VALUES (1, 'awaited')");
          failed = await tx.send('SELECT 1 / 0').catch((e: unknown) => e);
        })
        .catch((e: unknown) => e);
      expect(String(failed)).toMatch(/division by zero/);
      expect(String(error)).toMatch(/division by zero/);
      expect(await notes()).toEqual([]);
      await db.transaction((tx) => tx.send("INSERT INTO notes VALUES (1, 'awaited, then committed')"));
      expect(await notes()).toEqual([{ id: 1, body: 'awaited, then committed' }]);
    });

    // Neither node-postgres nor PGlite's statements write a BigInt inside a JSON parameter: the database never sees the statement.
    it('fail the transaction, writing nothing, when one has a parameter that cannot be sent', async () => {
      const error = await db
        .transaction(async (tx) => {
          void tx.send("INSERT INTO notes VALUES (1, 'before')");
          void tx.send('INSERT INTO notes VALUES (2, $1)', [{ unsendable: 1n }]);
          void tx.send("INSERT INTO notes VALUES (3, 'after')");
        })
        .catch((e: unknown) => e);
      expect(String(error)).toMatch(/BigInt/);
      expect(await notes()).toEqual([]);
    });

    it('are rolled back with a transaction whose function fails after sending them', async () => {
      const failure = new Error('the caller gave up');
      const error = await db
        .transaction(async (tx) => {
          void tx.send("INSERT INTO notes VALUES (1, 'sent')");
          void tx.send("INSERT INTO notes VALUES (2, 'sent')");
          throw failure;
        })
        .catch((e: unknown) => e);
      expect(error).toBe(failure);
      expect(await notes()).toEqual([]);
      // The connection went back clean: the next transaction commits what it writes.
      await db.transaction((tx) => tx.query("INSERT INTO notes VALUES (4, 'next')"));
      expect(await notes()).toEqual([{ id: 4, body: 'next' }]);
    });
  });
}
