import type { PgDatabase } from '../../src/sql/pg-database';
import { describeWithPostgres, dropTestSchemas, openPostgres } from '../support/databases';

/** A transaction whose first statement goes with its start in one round trip (PgDatabase.transactionFrom). */
describeWithPostgres('a transaction from its first statement, on the PostgreSQL server', () => {
  let db: PgDatabase;
  beforeAll(async () => {
    db = await openPostgres();
    await db.query('CREATE TABLE texts (id int PRIMARY KEY, body text NOT NULL, doc jsonb)');
  });
  afterAll(async () => {
    await db?.close();
    await dropTestSchemas();
  });

  // Quotes, backslashes, a parameter's name, a dollar quote, a statement's end, non-ASCII: each must arrive as written.
  const awkward = [`it's`, "back\\slash \\' and \\\\", '$1 $2 $$ $q$ ;', "'); DROP TABLE texts; --", 'ünïcødé ✓ \n\t end'];

  it('answers the first statement rows, its text parameters exactly as given, and commits it with what fn does', async () => {
    for (const [index, body] of awkward.entries()) {
      const doc = JSON.stringify({ body, list: [body] });
      const answered = await db.transactionFrom<{ id: number; body: string; doc: unknown }, string>(
        { sql: 'INSERT INTO texts (id, body, doc) VALUES ($1::int, $2, $3::jsonb) RETURNING id, body, doc', params: [String(index), body, doc] },
        async (tx, rows) => {
          expect(rows).toEqual([{ id: index, body, doc: { body, list: [body] } }]);
          // The same transaction: fn sees the first statement's row, which no one else does yet.
          expect(await tx.query('SELECT body FROM texts WHERE id = $1', [index])).toEqual([{ body }]);
          expect(await db.query('SELECT body FROM texts WHERE id = $1', [index])).toEqual([]);
          return rows[0].body;
        },
      );
      expect(answered).toBe(body);
    }
    expect(await db.query('SELECT body FROM texts ORDER BY id')).toEqual(awkward.map((body) => ({ body })));
  });

  it('rolls the first statement back when fn throws', async () => {
    const error = await db
      .transactionFrom({ sql: 'INSERT INTO texts (id, body) VALUES ($1::int, $2)', params: ['100', 'undone'] }, async () => {
        throw new Error('refused');
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe('refused');
    expect(await db.query("SELECT id FROM texts WHERE body = 'undone'")).toEqual([]);
  });

  it('rejects with the error of a first statement that fails, runs nothing of fn, and leaves the connections usable', async () => {
    let ran = false;
    const error = await db
      .transactionFrom({ sql: 'INSERT INTO texts (id, body) VALUES ($1::int, $2)', params: ['0', 'taken'] }, async () => {
        ran = true;
      })
      .catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('23505');
    expect(ran).toBe(false);
    // Every connection of the pool at once: none is left inside the failed transaction.
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => db.transaction((tx) => tx.query<{ n: string }>('SELECT count(*)::text AS n FROM texts'))),
    );
    expect(answers.every(([row]) => row.n === String(awkward.length))).toBe(true);
  });
});
