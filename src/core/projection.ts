import { createHash } from 'node:crypto';
import type { EventFilter, RecordedEvent } from '../eventstore/types';

export interface SqlStatement {
  sql: string;
  params?: unknown[];
  /** Kept prepared on the connection (see QueryOptions.prepared): for a statement of fixed text that runs at nearly every change. */
  prepared?: boolean;
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
  /**
   * Indexes built once a replay has reached the log's end, not kept up row by row while it writes:
   * `CREATE INDEX name ON table ...` statements, each naming its index and table. A rebuild of a
   * long log writes a row per event, and each index kept up meanwhile costs a page touched per
   * row, where one built at the end reads the table and sorts. The runner builds them (see
   * buildLaterIndexes) once the batch that reaches the end has committed; the checkpoint notes them
   * as pending from the reset until they exist, so that the read model counts as catching up
   * meanwhile; queries answer slower, from the tables as they stand. For indexes that only speed reads: never one a statement of apply() relies on (a unique
   * index that an upsert names).
   */
  readonly laterIndexes?: readonly string[];
  readonly filter?: EventFilter;
  /**
   * Kept inline where the log shares the read models' database: each append applies its events in
   * its own transaction (see inline-projection.ts), once the runner has built the read model. Not
   * for a read model whose rows must come in log order (concurrent appends commit in another).
   */
  readonly inline?: boolean;
  /**
   * A history the API reads on its own (the audit log): a change's answer does not wait for it,
   * a query of it does (AppDeps.settleHistory). Every other read model is one that answers show.
   */
  readonly history?: boolean;
  /**
   * The runner's batches commit without waiting for their flush to disk: the rows and the
   * checkpoint commit together, so a crash that loses the last batches loses them whole, and they
   * are applied again from the log. Never in an append's transaction (inline), whose events must be durable.
   */
  readonly unflushedBatches?: boolean;
  apply(event: RecordedEvent): SqlStatement[];
  /** The statements of a batch of events, where fewer than apply() would give (many rows in one INSERT); apply() otherwise. */
  applyAll?(events: readonly RecordedEvent[]): SqlStatement[];
  /**
   * The statements of a batch that read its events from the log's own table (the SQL store's
   * events, in the read model's database), where the runner is told the log is there: the events'
   * data then does not travel through Node and back. They name the batch's events, read before.
   */
  applyFromLog?(events: readonly RecordedEvent[]): SqlStatement[];
}

/** Changes whenever a part's version does, or a part comes or goes; fits the checkpoint's integer column. */
function combinedVersion(parts: readonly Projection[]): number {
  const key = parts.map((part) => `${part.name}:${part.version}`).join('|');
  return Number.parseInt(createHash('sha256').update(key).digest('hex').slice(0, 7), 16);
}

/** Whether an event passes a projection's filter. */
export function passes(filter: EventFilter | undefined, event: RecordedEvent): boolean {
  if (filter?.eventTypes && !filter.eventTypes.includes(event.type)) return false;
  if (filter?.streamPrefixes && !filter.streamPrefixes.some((prefix) => event.stream.startsWith(prefix))) return false;
  return true;
}

/**
 * Several read models applied as one: one subscription, one transaction and one checkpoint per
 * batch for all of them, where separate runners would each read the log and commit. They are
 * rebuilt together; the version rises whenever one of theirs does. Each part owns its tables:
 * none writes or reads another's.
 */
export function combineProjections(name: string, parts: readonly Projection[]): Projection {
  const prefixes = parts.every((part) => part.filter?.streamPrefixes && !part.filter.eventTypes)
    ? parts.flatMap((part) => part.filter!.streamPrefixes!)
    : undefined;
  return {
    name,
    version: combinedVersion(parts),
    tables: parts.flatMap((part) => part.tables),
    schema: parts.flatMap((part) => part.schema),
    laterIndexes: parts.flatMap((part) => part.laterIndexes ?? []),
    filter: prefixes && { streamPrefixes: [...new Set(prefixes)] },
    apply: (event) => parts.flatMap((part) => (passes(part.filter, event) ? part.apply(event) : [])),
    // Part after part, each with the whole batch: the same rows as event after event, since each
    // part writes and reads only tables of its own.
    applyAll: (events) =>
      parts.flatMap((part) => {
        const read = events.filter((event) => passes(part.filter, event));
        return part.applyAll?.(read) ?? read.flatMap((event) => part.apply(event));
      }),
  };
}
