import type { EventStore, Position } from '../eventstore/types';
import { ProjectionTimeoutError } from './errors';

/** How long a wait for the log to be readable sleeps between looks, at first and at most (ms). */
const FIRST_LOOK_MS = 2;
const MOST_LOOK_MS = 50;

/**
 * Resolves once readers of the log (readAll, subscriptions, the history's runner) can read up to
 * `position`. On a SQL store a committed event becomes readable once every older transaction has
 * ended; usually it already is: the store knows it of its own appends made with no older
 * transaction open, and otherwise this is one look at the log's readable end.
 */
export async function logReadable(store: EventStore, position: Position, timeoutMs: number): Promise<void> {
  // An append committed with no older transaction open is readable at once: no look needed.
  if (store.knownReadable?.(position)) return;
  const deadline = Date.now() + timeoutMs;
  for (let waitMs = FIRST_LOOK_MS; ; waitMs = Math.min(waitMs * 2, MOST_LOOK_MS)) {
    const head = await store.headPosition();
    if (head !== null && store.comparePositions(head, position) >= 0) return;
    if (Date.now() >= deadline) throw new ProjectionTimeoutError('log', position, timeoutMs);
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
}
