import type { SqlDatabase } from '../../src/sql/database';
import { asText, batchStatements, type Change, type RowKind, type RowValue } from '../../src/sql/row-batches';
import { dropTestSchemas, testDatabases } from '../support/databases';

afterAll(dropTestSchemas);

const insert: RowKind = { columns: ['id integer', 'note text'], sql: 'INSERT INTO notes (id, note) SELECT id, note FROM batch' };
const append: RowKind = {
  columns: ['id integer', 'note text'],
  sql: 'UPDATE notes SET note = notes.note || batch.note FROM batch WHERE notes.id = batch.id',
  merge: (earlier, later) => [later[0], `${earlier[1]}${later[1]}`],
};
const note = (id: number, text: string, kind = insert): Change => ({ key: `note:${id}`, kind, row: [id, text] });
/** The rows a statement carries, each value as its text. */
const rowsOf = (statement: { params?: unknown[] }) => (statement.params === undefined ? undefined : JSON.parse(String(statement.params[0])));

describe('batchStatements', () => {
  it('changes rows of different keys with one statement a kind, and one key only after its change before', () => {
    const statements = batchStatements([note(1, 'a'), note(2, 'b'), note(1, '!', { ...append, merge: undefined }), note(3, 'c')]);
    expect(statements.map(rowsOf)).toEqual([
      [
        ['1', 'a'],
        ['2', 'b'],
        ['3', 'c'],
      ],
      [['1', '!']],
    ]);
    expect(statements[0].sql).toMatch(
      /^WITH batch AS \(SELECT \(row ->> 0\)::integer AS id, \(row ->> 1\)::text AS note FROM jsonb_array_elements\(\$1::jsonb\) .*\) INSERT INTO notes/,
    );
  });

  it('folds changes of one key that follow each other, where the kind says how', () => {
    const statements = batchStatements([note(1, 'a', append), note(2, 'x', append), note(1, 'b', append), note(1, 'c', append)]);
    expect(statements.map(rowsOf)).toEqual([
      [
        ['1', 'abc'],
        ['2', 'x'],
      ],
    ]);
  });

  it('runs any other statement after every change before it and before every change after it', () => {
    const barrier = { sql: 'DELETE FROM notes' };
    const keyed = { key: 'note:1', statement: { sql: 'UPDATE notes SET note = upper(note) WHERE id = 1' } };
    const statements = batchStatements([note(1, 'a'), keyed, note(2, 'b'), barrier, note(1, 'c'), note(2, 'd')]);
    expect(statements.map((statement) => statement.sql.replace(/^WITH batch AS \(.*batch_rows\([^)]*\)\) /, ''))).toEqual([
      'INSERT INTO notes (id, note) SELECT id, note FROM batch',
      'UPDATE notes SET note = upper(note) WHERE id = 1',
      'DELETE FROM notes',
      'INSERT INTO notes (id, note) SELECT id, note FROM batch',
    ]);
    expect(statements.map(rowsOf)).toEqual([
      [
        ['1', 'a'],
        ['2', 'b'],
      ],
      undefined,
      undefined,
      [
        ['1', 'c'],
        ['2', 'd'],
      ],
    ]);
  });

  it('refuses a value it could not give as its text: JSON comes as text', () => {
    expect(() => asText({ a: 1 } as unknown as RowValue)).toThrow(/JSON as its text/);
    expect(() => asText([1, 2] as unknown as RowValue)).toThrow(/JSON as its text/);
  });
});

/** Values of every kind the projections give, the awkward ones included. */
const TEXTS = [
  "it's",
  'back\\slash \\\\ two',
  '"quoted" and \\"escaped\\"',
  '{braces,commas}',
  'NULL',
  'null',
  '',
  ' spaces ',
  'unicode ✓ 𝄞 Zoë 中文',
  'tab\tnewline\ncarriage\r',
  "'; DROP TABLE kinds; --",
];
const JSONS = [
  JSON.stringify({ name: 'O\'Hara \\ "ops"', nested: { list: [1, 'two', null, true], empty: {} }, unicode: 'Zoë ✓' }),
  JSON.stringify(['a', { b: 'c"d' }, 3.5, null]),
  JSON.stringify('a JSON string'),
  JSON.stringify(null),
];

const kinds: RowKind = {
  columns: ['k integer', 't text', 'i integer', 'n numeric', 'big bigint', 'b boolean', 'ts timestamptz', 'd date', 'j jsonb'],
  sql: 'INSERT INTO batched (k, t, i, n, big, b, ts, d, j) SELECT k, t, i, n, big, b, ts, d, j FROM batch',
};

function rows(): RowValue[][] {
  const all: RowValue[][] = [];
  const count = Math.max(TEXTS.length, JSONS.length, 6);
  for (let k = 0; k < count; k++) {
    all.push([
      k,
      TEXTS[k % TEXTS.length],
      [0, -1, 2147483647, -2147483648, 42, 7][k % 6],
      [0, -1.5, 1.25, 1e-7, 123456789.125, 2][k % 6],
      [9007199254740993n, -1n, 0n, 2n ** 62n, 5n, 6n][k % 6],
      k % 2 === 0,
      [new Date('2026-03-29T01:59:59.999Z'), '2026-01-01T00:00:00.123456Z', '2026-07-01T12:00:00+02:00', null, '1999-12-31T23:59:59Z', new Date(0)][k % 6],
      ['2027-06-30', null, '2000-02-29', '1970-01-01', '2026-12-31', '2027-01-31'][k % 6],
      k < JSONS.length ? JSONS[k] : null,
    ]);
  }
  // A row of nulls but for its key.
  all.push([count, null, null, null, null, null, null, null, null]);
  return all;
}

for (const database of testDatabases) {
  describe(`batched rows on ${database.name}`, () => {
    let db: SqlDatabase;
    beforeAll(async () => {
      db = await database.open();
      for (const table of ['batched', 'one_by_one']) {
        await db.exec(`CREATE TABLE ${table} (k integer PRIMARY KEY, t text, i integer, n numeric, big bigint, b boolean, ts timestamptz, d date, j jsonb)`);
      }
    });
    afterAll(async () => {
      await db.close();
    });

    it('store every kind of value exactly as one parameterised statement per row does', async () => {
      const all = rows();
      for (const statement of batchStatements(all.map((row) => ({ key: `k:${row[0]}`, kind: kinds, row })))) await db.query(statement.sql, statement.params);
      for (const row of all) {
        await db.query(
          'INSERT INTO one_by_one (k, t, i, n, big, b, ts, d, j) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
          row.map((value) => (typeof value === 'bigint' ? value.toString() : value instanceof Date ? value.toISOString() : value)),
        );
      }
      const read = (table: string) =>
        db.query<Record<string, unknown>>(
          `SELECT k, t, i, n::text AS n, big::text AS big, b, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS ts, d::text AS d, j::text AS j
             FROM ${table} ORDER BY k`,
        );
      const batched = await read('batched');
      expect(batched).toEqual(await read('one_by_one'));
      expect(batched).toHaveLength(all.length);
      // The values themselves, not only the same ones both ways.
      expect(batched.slice(0, TEXTS.length).map((row) => row.t)).toEqual(TEXTS);
      for (const [k, json] of JSONS.entries()) expect(JSON.parse(String(batched[k].j))).toEqual(JSON.parse(json));
      expect(batched.slice(0, 6).map((row) => [row.i, row.n, row.big, row.b])).toEqual([
        [0, '0', '9007199254740993', true],
        [-1, '-1.5', '-1', false],
        [2147483647, '1.25', '0', true],
        [-2147483648, '0.0000001', '4611686018427387904', false],
        [42, '123456789.125', '5', true],
        [7, '2', '6', false],
      ]);
      expect(batched.slice(0, 6).map((row) => [row.ts, row.d])).toEqual([
        ['2026-03-29T01:59:59.999000', '2027-06-30'],
        ['2026-01-01T00:00:00.123456', null],
        ['2026-07-01T10:00:00.000000', '2000-02-29'],
        [null, '1970-01-01'],
        ['1999-12-31T23:59:59.000000', '2026-12-31'],
        ['1970-01-01T00:00:00.000000', '2027-01-31'],
      ]);
      expect(batched[all.length - 1]).toEqual({ k: all.length - 1, t: null, i: null, n: null, big: null, b: null, ts: null, d: null, j: null });
    });
  });
}
