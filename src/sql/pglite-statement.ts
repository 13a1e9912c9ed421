import { type PGlite, parse, protocol } from '@electric-sql/pglite';

const { serialize } = protocol;

/**
 * One statement with its parameters, run by PGlite in one call: Parse, Bind, Describe, Execute
 * and Sync written as one message. PGlite's own query makes six calls into PostgreSQL for it (it
 * asks the parameters' types first, to write each value by its type), each with its own cost on
 * this thread; a trivial statement took about a quarter less this way. The caller holds
 * PGlite's turn for transactions (see PgliteDatabase), as PGlite's query does.
 *
 * Values are written as text, their types left to PostgreSQL to infer from the statement, as
 * node-postgres writes them for the PostgreSQL server (a Date as its instant in UTC, which a
 * timestamptz reads the same; node-postgres writes local time with its offset). A value that has
 * no such form (a function, a symbol) is refused before anything is written.
 */
export async function runStatement<R>(db: PGlite, text: string, params: readonly unknown[] | undefined, options: { sync: boolean }): Promise<R[]> {
  // Every value made first: the protocol's writers are shared, and one that fails halfway would
  // leave part of its message in them for whatever is written next (PGlite's own BEGIN included).
  const values = (params ?? []).map(wireValue);
  const message = statementMessage(text, values);
  return db._runExclusiveQuery(async () => {
    const messages = await db.execProtocolStream(message, { syncToFs: false });
    // Outside a transaction, what was written goes to the folder before the answer, as PGlite's query does.
    if (options.sync) await db.syncToFs();
    return parse.parseResults(messages, db.parsers)[0].rows as R[];
  });
}

function statementMessage(text: string, values: (string | Uint8Array | null)[]): Uint8Array {
  return Buffer.concat([serialize.parse({ text }), serialize.bind({ values }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()]);
}

/** A parameter as the wire carries it: text, bytes (bytea, sent as binary), or null. */
function wireValue(value: unknown): string | Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return arrayLiteral(value);
  if (typeof value !== 'object') throw new TypeError(`a ${typeof value} cannot be a statement's parameter`);
  // As node-postgres: an object whose JSON is nothing (toJSON answers undefined) is null.
  return JSON.stringify(value) ?? null;
}

/** A PostgreSQL array literal: every element quoted (backslashes and quotes escaped), NULL for null. */
function arrayLiteral(values: readonly unknown[]): string {
  const elements = values.map((value) => {
    if (Array.isArray(value)) return arrayLiteral(value);
    const text = wireValue(value);
    if (text === null) return 'NULL';
    const shown = typeof text === 'string' ? text : `\\x${Buffer.from(text).toString('hex')}`;
    return `"${shown.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  });
  return `{${elements.join(',')}}`;
}
