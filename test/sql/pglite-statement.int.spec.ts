import type { SqlDatabase } from '../../src/sql/database';
import { dropTestSchemas, openPostgres, pglite, postgresAvailable } from '../support/databases';

afterAll(dropTestSchemas);

/**
 * PGlite runs each statement as one message with its values written as text (runStatement), as
 * node-postgres writes them for the PostgreSQL server: the same statement with the same values
 * reads the same on both.
 */
describe('statements run on PGlite', () => {
  let db: SqlDatabase;
  /** The PostgreSQL server, to compare with. */
  let server: SqlDatabase | undefined;
  beforeAll(async () => {
    db = await pglite.open();
    await db.exec('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
    if (postgresAvailable) server = await openPostgres(undefined, 1);
  });
  afterAll(async () => {
    await db.close();
    await server?.close();
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
    ['null', null, 'text'],
  ];

  it.each(values)('reads %s as the PostgreSQL server does', async (_name, value, type) => {
    const sql = `SELECT $1::${type} AS value, $1::${type}::text AS printed`;
    if (server === undefined) throw new Error('the PostgreSQL server is needed to compare with');
    const [row] = await db.query<{ printed: string | null }>(sql, [value]);
    const [expected] = await server.query<{ printed: string | null }>(sql, [value]);
    expect(row.printed).toBe(expected.printed);
    if (value !== null) expect(row.printed).not.toBeNull();
  });

  it('fails a statement with the database error, and runs the next', async () => {
    const error = await db.query('SELECT no_such_column FROM notes').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '42703', message: 'column "no_such_column" does not exist' });
    expect(await db.query<{ n: number }>('SELECT count(*)::int AS n FROM notes')).toEqual([{ n: 0 }]);
  });

  it('runs a statement queried outside a transaction after the transaction open, never inside it', async () => {
    let carryOn!: () => void;
    const held = new Promise<void>((resolve) => {
      carryOn = resolve;
    });
    let inserted!: () => void;
    const insertedRow = new Promise<void>((resolve) => {
      inserted = resolve;
    });
    const transaction = db.transaction(async (tx) => {
      await tx.query("INSERT INTO notes VALUES (1, 'in the transaction')");
      inserted();
      await held;
      throw new Error('rolled back');
    });
    await insertedRow;
    let seen: { n: number }[] | undefined;
    const outside = db.query<{ n: number }>('SELECT count(*)::int AS n FROM notes').then((rows) => {
      seen = rows;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toBeUndefined();
    carryOn();
    await expect(transaction).rejects.toThrow('rolled back');
    await outside;
    expect(seen).toEqual([{ n: 0 }]);
  });
});
