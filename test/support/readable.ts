import type { EventStore, Position } from '../../src/eventstore/types';
import { eventually } from './eventually';

/**
 * Waits until readAll and subscriptions can see `position`. On a PostgreSQL server a committed
 * event becomes readable once every older transaction of the server has ended, and test files
 * run side by side with transactions of their own.
 */
/**
 * Waits until readAll can see every event committed so far: a mutation answers once its events are
 * committed, which may be before older transactions of the server have ended.
 */
export async function allReadable(store: EventStore): Promise<void> {
  const last = await (store.lastCommittedPosition?.() ?? store.headPosition());
  if (last !== null) await readable(store, last);
}

export async function readable(store: EventStore, position: Position): Promise<void> {
  await eventually(async () => {
    const head = await store.headPosition();
    if (head === null || store.comparePositions(head, position) < 0) throw new Error(`${position} is not readable yet`);
  });
}
