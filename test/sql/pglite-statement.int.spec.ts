import type { SqlDatabase } from '../../src/sql/database';
import { describeWithPostgres, dropTestSchemas, openPostgres, pglite } from '../support/databases';

afterAll(dropTestSchemas);

/**
 * PGlite runs each statement as one message with its values written as text (runStatement), as
 * node-postgres writes them for the PostgreSQL server: the same statement with the same values
 * reads the same on both.
 */
describe('statements run on PGlite', () => {
  let db: SqlDatabase;
  beforeAll(async () => {
    db = await pglite.open();
    await db.exec('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
  });
  afterAll(() => db.close());
  beforeEach(() => db.exec('DELETE FROM notes'));

  it('fails a statement with the database error, and runs the next', async () => {
    const error = await db.query('SELECT no_such_column FROM notes').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '42703', message: 'column "no_such_column" does not exist' });
    expect(await db.query<{ n: number }>('SELECT count(*)::int AS n FROM notes')).toEqual([{ n: 0 }]);
  });

  it('refuses a value that has no form as a parameter, writing nothing, and the next statements and transactions run', async () => {
    for (const value of [() => 1, Symbol('s')]) {
      await expect(db.query('INSERT INTO notes VALUES (1, $1)', [value])).rejects.toThrow(/cannot be a statement's parameter/);
      const sent = await db
        .transaction(async (tx) => {
          void tx.send("INSERT INTO notes VALUES (2, 'before')");
          void tx.send('INSERT INTO notes VALUES (3, $1)', [value]);
        })
        .catch((e: unknown) => e);
      expect(String(sent)).toMatch(/cannot be a statement's parameter/);
      const caught = await db.transaction(async (tx) => {
        await tx.query('INSERT INTO notes VALUES (4, $1)', [value]).catch(() => undefined);
        await tx.query("INSERT INTO notes VALUES (5, 'after a refused one')");
      });
      expect(caught).toBeUndefined();
      expect(await db.query('SELECT id, body FROM notes ORDER BY id')).toEqual([{ id: 5, body: 'after a refused one' }]);
      await db.exec('DELETE FROM notes');
    }
  });

  /** A transaction that writes a row and is held open until released, then rolled back. */
  function heldOpen(): { written: Promise<void>; release: () => void; ended: Promise<unknown> } {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let wrote!: () => void;
    const written = new Promise<void>((resolve) => {
      wrote = resolve;
    });
    const ended = db.transaction(async (tx) => {
      await tx.query("INSERT INTO notes VALUES (1, 'in a transaction held open')");
      wrote();
      await held;
      throw new Error('rolled back');
    });
    return { written, release, ended: ended.catch((e: unknown) => e) };
  }

  it('refuses a statement of a transaction that has ended, which would run in another', async () => {
    let leaked!: { query: SqlDatabase['query'] };
    await db.transaction(async (tx) => {
      leaked = tx;
    });
    const other = heldOpen();
    await other.written;
    await expect(leaked.query("INSERT INTO notes VALUES (2, 'leaked')")).rejects.toThrow(/the transaction has ended/);
    other.release();
    expect(String(await other.ended)).toMatch(/rolled back/);
    expect(await db.query('SELECT id FROM notes')).toEqual([]);
  });

  it('runs a statement queried outside a transaction after the transaction open, never inside it', async () => {
    const open = heldOpen();
    await open.written;
    let seen: { n: number }[] | undefined;
    const outside = db.query<{ n: number }>('SELECT count(*)::int AS n FROM notes').then((rows) => {
      seen = rows;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toBeUndefined();
    open.release();
    expect(String(await open.ended)).toMatch(/rolled back/);
    await outside;
    expect(seen).toEqual([{ n: 0 }]);
  });
});

describeWithPostgres('values of statements run on PGlite, read as the PostgreSQL server reads them', () => {
  let db: SqlDatabase;
  let server: SqlDatabase;
  beforeAll(async () => {
    db = await pglite.open();
    server = await openPostgres(undefined, 1);
  });
  afterAll(async () => {
    await db.close();
    await server.close();
  });

  const values: [string, unknown, string][] = [
    ['text', 'plain', 'text'],
    ['text with quotes, backslashes and more', 'a "quoted" \\ back\\slash, {brace} é 😀 \'single\'', 'text'],
    ['integer', 42, 'int'],
    ['a number with a fraction and an exponent', 1.5e21, 'float8'],
    ['a big integer', 9007199254740993n, 'int8'],
    ['true', true, 'bool'],
    ['false', false, 'bool'],
    ['a time', new Date('2026-12-06T10:11:12.345Z'), 'timestamptz'],
    ['bytes', Buffer.from([0, 1, 2, 255, 92, 34]), 'bytea'],
    ['text array', ['a', 'b,c', '"q"', 'back\\slash', '{x}', 'NULL', '', null], 'text[]'],
    [
      'nested array',
      [
        [1, 2],
        [3, null],
      ],
      'int[]',
    ],
    ['an object, as JSON', { nested: { list: [1, 'two', null], quote: '"' } }, 'jsonb'],
    ['a JSON text', '{"already": "text"}', 'jsonb'],
    ['an object whose JSON is nothing', { toJSON: () => undefined }, 'jsonb'],
    ['null', null, 'text'],
  ];

  it.each(values)('%s', async (_name, value, type) => {
    const sql = `SELECT $1::${type}::text AS printed`;
    const [row] = await db.query<{ printed: string | null }>(sql, [value]);
    const [expected] = await server.query<{ printed: string | null }>(sql, [value]);
    expect(row.printed).toBe(expected.printed);
  });
});
