import type { EventFilter, RecordedEvent } from '../eventstore/types';

export interface SqlStatement {
  sql: string;
  params?: unknown[];
}

/**
 * A read model: its tables and a pure function from one event to the SQL that applies it.
 * The runner executes those statements in the same transaction as the checkpoint.
 */
export interface Projection {
  /** Unique; names the checkpoint and the lock. */
  readonly name: string;
  /** Raise it when the tables or apply() change: the read model is then rebuilt from the start. */
  readonly version: number;
  /** The tables it owns; a rebuild drops them. */
  readonly tables: readonly string[];
  /** Statements that create the tables. */
  readonly schema: readonly string[];
  readonly filter?: EventFilter;
  apply(event: RecordedEvent): SqlStatement[];
}
