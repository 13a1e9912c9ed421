import type { EventStore, Position } from '../../src/eventstore/types';
import { eventually } from './eventually';

/**
 * Waits until readAll and subscriptions can see `position`. On a PostgreSQL server a committed
 * event becomes readable once every older transaction of the server has ended, and test files
 * run side by side with transactions of their own.
 */
export async function readable(store: EventStore, position: Position): Promise<void> {
  await eventually(async () => {
    const head = await store.headPosition();
    if (head === null || store.comparePositions(head, position) < 0) throw new Error(`${position} is not readable yet`);
  });
}
