import { Client } from 'pg';
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

describeWithPostgres("a server transaction's statements sent together (queryAll)", () => {
  let db: PgDatabase;
  beforeAll(async () => {
    db = await openPostgres();
    await db.query('CREATE TABLE counts (id text PRIMARY KEY, n bigint NOT NULL, on_ boolean, note text, at timestamptz)');
  });
  afterAll(async () => {
    await db?.close();
    await dropTestSchemas();
  });

  /** The statements sent to the server while `run` runs. */
  async function sent(run: () => Promise<void>): Promise<number> {
    const spy = jest.spyOn(Client.prototype, 'query');
    try {
      await run();
      return spy.mock.calls.length;
    } finally {
      spy.mockRestore();
    }
  }

  it('runs them in order in one round trip, each seeing the ones before, with every kind of parameter as it would be sent alone', async () => {
    const calls = await sent(() =>
      db.transaction(async (tx) => {
        await tx.queryAll!([
          { sql: 'INSERT INTO counts (id, n, on_, note) VALUES ($1, $2, $3, $4)', params: ["a'b\\c $1", 41, true, null] },
          { sql: 'UPDATE counts SET n = n + $2, on_ = NOT on_ WHERE id = $1', params: ["a'b\\c $1", 1n] },
          { sql: 'INSERT INTO counts (id, n, note) SELECT id || $2, n * 2, $3 FROM counts WHERE id = $1', params: ["a'b\\c $1", '-copy', 'ünï ✓'] },
        ]);
      }),
    );
    // The start, the statements, the commit.
    expect(calls).toBe(3);
    expect(await db.query('SELECT id, n::int AS n, on_, note FROM counts ORDER BY id')).toEqual([
      { id: "a'b\\c $1", n: 42, on_: false, note: null },
      { id: "a'b\\c $1-copy", n: 84, on_: null, note: 'ünï ✓' },
    ]);
  });

  it('sends them one by one where a parameter is of a kind it does not write in (a date), in the same order', async () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const calls = await sent(() =>
      db.transaction(async (tx) => {
        await tx.queryAll!([
          { sql: 'INSERT INTO counts (id, n) VALUES ($1, $2)', params: ['dated', 1] },
          { sql: 'UPDATE counts SET at = $2, n = n + 1 WHERE id = $1', params: ['dated', at] },
        ]);
      }),
    );
    expect(calls).toBe(4);
    expect(await db.query("SELECT n::int AS n, at FROM counts WHERE id = 'dated'")).toEqual([{ n: 2, at }]);
  });

  it('stops at the first that fails, with its error, and the transaction writes nothing', async () => {
    const error = await db
      .transaction(async (tx) => {
        await tx.queryAll!([
          { sql: 'INSERT INTO counts (id, n) VALUES ($1, $2)', params: ['b', 1] },
          { sql: 'INSERT INTO counts (id, n) VALUES ($1, $2)', params: ['b', 2] },
          { sql: 'INSERT INTO counts (id, n) VALUES ($1, $2)', params: ['c', 3] },
        ]);
      })
      .catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('23505');
    expect(await db.query("SELECT id FROM counts WHERE id IN ('b', 'c')")).toEqual([]);
  });
});
