import type { SqlStatement } from '../src/core/projection';
import type { RecordedEvent } from '../src/eventstore/types';
import { batchStatements, type Change } from '../src/sql/row-batches';

/**
 * A projection's applyAll: the changes of the events that have a batched form, many rows a
 * statement, and apply()'s own statements for the others, in their place in the log.
 */
export function applyInBatches(
  changesOf: (event: RecordedEvent) => Change[] | undefined,
  apply: (event: RecordedEvent) => SqlStatement[],
): (events: readonly RecordedEvent[]) => SqlStatement[] {
  return (events) => batchStatements(events.flatMap((event) => changesOf(event) ?? apply(event)));
}

/** A later change of the same columns replaces an earlier one. */
export const lastWins = <T>(_earlier: readonly T[], later: readonly T[]): T[] => [...later];
