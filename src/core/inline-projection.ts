import { BackplaneError } from '../errors';
import type { AppendHook } from '../eventstore/postgres/sql-event-store';
import type { Position, RecordedEvent } from '../eventstore/types';
import type { SqlExecutor, SqlTransaction } from '../sql/database';
import { passes, type Projection } from './projection';

/**
 * Read models kept inline: where the log and the read models share one database, each append
 * applies its own events to the read model in its own transaction, so that a command's answer
 * shows its change without waiting for a runner, and a crash anywhere leaves both or neither.
 * The runner builds the read model from the log (first start, rebuild, a new version) and, once
 * it reaches the log's end, hands it over to the appends (ProjectionRunner); a reset hands it back.
 * Both hand-overs hold the appends meanwhile (the projection's inline lock, taken alone), so every
 * event is applied exactly once: by the runner if it committed before, by its append if after.
 */

/** What the hand-over reads: every committed event after the runner's checkpoint, while appends are held. */
export interface InlineLog {
  readCommittedAfter(tx: SqlExecutor, after: Position | null, maxCount?: number): Promise<RecordedEvent[]>;
}

/** The read model is kept inline by a Backplane of another version: this one must not write it. */
export class ReadModelVersionError extends BackplaneError {
  constructor(name: string, found: number | null, own: number) {
    super('READ_MODEL_VERSION', `read model ${name} is kept at version ${found ?? 'unknown'} by another Backplane; this one has version ${own}: upgrade it`);
  }
}

/** An append's events at least that take the projection's batched form (a plan run's results): fewer go event by event. */
const BATCHED_FROM = 16;

/**
 * Applies events to the projection's read model in `tx`, and resolves once its statements are
 * sent (SqlTransaction.send: the transaction's commit goes behind them and waits for them), to
 * `ran`, which settles once they have run. Statements it could not make reject it before anything
 * is sent. Many events at once go in the batched form, under a savepoint, awaited: should it fail
 * (a few large statements can fail where one per event do not), they go again event by event.
 */
export async function applyInTransaction(tx: SqlTransaction, projection: Projection, events: readonly RecordedEvent[]): Promise<{ ran: Promise<void> }> {
  const read = events.filter((event) => passes(projection.filter, event));
  const eventByEvent = () => {
    // Every statement made before the first is sent.
    const statements = read.flatMap((event) => projection.apply(event));
    const ran = Promise.all(statements.map((statement) => tx.send(statement.sql, statement.params, statement))).then(() => undefined);
    ran.catch(() => undefined);
    return { ran };
  };
  if (read.length < BATCHED_FROM || !projection.applyAll) return eventByEvent();
  await tx.query('SAVEPOINT inline_batch');
  try {
    for (const statement of projection.applyAll(read)) await tx.query(statement.sql, statement.params);
    await tx.query('RELEASE SAVEPOINT inline_batch');
  } catch {
    await tx.query('ROLLBACK TO SAVEPOINT inline_batch');
    return eventByEvent();
  }
  return { ran: Promise.resolve() };
}

/**
 * The store's hook that keeps the projection inline: each append first holds the projection's
 * inline lock shared and reads whether the read model is inline now (inline_projection_mode); if
 * so, it applies its events.
 */
export function inlineProjectionHook(projection: Projection): AppendHook {
  return {
    first: { fn: 'inline_projection_mode', arg: projection.name },
    begin(first) {
      const mode = first as { o_inline?: boolean | null; o_version?: number | null };
      if (!mode.o_inline) return null;
      const version = mode.o_version ?? null;
      if (version !== projection.version) throw new ReadModelVersionError(projection.name, version, projection.version);
      return { readModel: projection.name, apply: (on, events) => applyInTransaction(on, projection, events) };
    },
  };
}
