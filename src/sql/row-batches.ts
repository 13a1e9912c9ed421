/**
 * Many rows changed by one statement each kind, where one statement per row would cost a round
 * trip each: a read model's rebuild applies hundreds of events a batch. The changes come in log
 * order; each names the row it touches (its key). Changes of different keys commute, so they are
 * grouped into rounds in which no key appears twice, and each round runs one statement per kind,
 * reading its rows from one JSON parameter. Changes of one key keep their order, round after round.
 */

export interface BatchedStatement {
  sql: string;
  params?: unknown[];
}

/** A way of changing rows, many at once. */
export interface RowKind {
  /** The columns of each row with their SQL types, e.g. `id uuid`, `done integer`. */
  readonly columns: readonly string[];
  /** The statement, reading the rows from a relation named `batch` that has those columns. */
  readonly sql: string;
  /**
   * Two changes of one key, the later right after the earlier, as one change of the same kind,
   * where that gives the same rows; undefined where it does not.
   */
  merge?(earlier: readonly RowValue[], later: readonly RowValue[]): RowValue[] | undefined;
}

/** A value of a row: given to PostgreSQL as text, as a parameter of one statement per row would be. */
export type RowValue = string | number | boolean | bigint | Date | null;

/** A change of the rows of one key, batched with others of its kind. */
export interface RowChange {
  readonly key: string;
  readonly kind: RowKind;
  readonly row: RowValue[];
}

/** A statement on the rows of one key only, kept in its place among that key's changes. */
export interface KeyedStatement {
  readonly key: string;
  readonly statement: BatchedStatement;
}

/**
 * What a batch asks: a change of one key's rows, batched or alone, or any other statement, which
 * runs after everything before it and before everything after it.
 */
export type Change = RowChange | KeyedStatement | BatchedStatement;

type Slot = { kind: RowKind; rows: RowValue[][] } | { statement: BatchedStatement };

/** Where a key's last change went: its round, and its row when merging into it may follow. */
interface Last {
  round: number;
  kind?: RowKind;
  rows?: RowValue[][];
  index?: number;
}

/** The statements that make the changes, in as few statements as their keys allow. */
export function batchStatements(changes: Iterable<Change>): BatchedStatement[] {
  const statements: BatchedStatement[] = [];
  let rounds: Slot[][] = [];
  const last = new Map<string, Last>();
  const flush = () => {
    for (const round of rounds) for (const slot of round) statements.push('statement' in slot ? slot.statement : statementOf(slot.kind, slot.rows));
    rounds = [];
    last.clear();
  };
  for (const change of changes) {
    if (!('key' in change)) {
      flush();
      statements.push(change);
      continue;
    }
    const previous = last.get(change.key);
    if ('kind' in change && previous?.kind === change.kind && change.kind.merge) {
      const merged = change.kind.merge(previous.rows![previous.index!], change.row);
      if (merged) {
        previous.rows![previous.index!] = merged;
        continue;
      }
    }
    const round = previous ? previous.round + 1 : 0;
    rounds[round] ??= [];
    const slots = rounds[round];
    if ('statement' in change) {
      slots.push({ statement: change.statement });
      last.set(change.key, { round });
      continue;
    }
    let slot = slots.find((candidate): candidate is Extract<Slot, { kind: RowKind }> => 'kind' in candidate && candidate.kind === change.kind);
    if (!slot) {
      slot = { kind: change.kind, rows: [] };
      slots.push(slot);
    }
    slot.rows.push(change.row);
    last.set(change.key, { round, kind: change.kind, rows: slot.rows, index: slot.rows.length - 1 });
  }
  flush();
  return statements;
}

/**
 * One statement for rows of a kind: the rows go as one JSON document of texts (made and read at
 * native speed), each cast to its column's type as a parameter would be.
 */
function statementOf(kind: RowKind, rows: readonly RowValue[][]): BatchedStatement {
  const columns = kind.columns
    .map((column, n) => {
      const name = column.split(' ')[0];
      return `(row ->> ${n})::${column.slice(name.length + 1)} AS ${name}`;
    })
    .join(', ');
  return {
    sql: `WITH batch AS (SELECT ${columns} FROM jsonb_array_elements($1::jsonb) AS batch_rows(row)) ${kind.sql}`,
    params: [JSON.stringify(rows.map((row) => kind.columns.map((_, n) => asText(row[n]))))],
  };
}

/** A value as the text PostgreSQL parses for its column's type. */
export function asText(value: RowValue | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  throw new TypeError(`a batched row takes text, numbers, booleans, bigints, dates and null, not ${typeof value}: give JSON as its text`);
}
