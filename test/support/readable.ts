import { logReadable } from '../../src/core/readable';
import type { EventStore, Position } from '../../src/eventstore/types';

/** How long a test waits for the log to be readable (ms). */
const READABLE_WITHIN_MS = 15_000;

/**
 * Waits until readAll can see every event committed so far: a mutation answers once its events are
 * committed, which may be before older transactions of the server have ended.
 */
export async function allReadable(store: EventStore): Promise<void> {
  const last = await (store.lastCommittedPosition?.() ?? store.headPosition());
  if (last !== null) await readable(store, last);
}

/**
 * Waits until readAll and subscriptions can see `position`. On a PostgreSQL server a committed
 * event becomes readable once every older transaction of the server has ended, and test files
 * run side by side with transactions of their own.
 */
export function readable(store: EventStore, position: Position): Promise<void> {
  return logReadable(store, position, READABLE_WITHIN_MS);
}
