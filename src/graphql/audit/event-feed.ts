import type { EventFilter, EventStore, Position, RecordedEvent, Subscription } from '../../eventstore/types';

/**
 * The event store's catch-up subscription as an async iterator, for GraphQL subscriptions: every
 * process serves what any process wrote. Events wait in a queue while the client reads; returning
 * from the iterator (the client left) stops the store subscription.
 */
export function eventFeed<T>(
  store: EventStore,
  options: { from: Position | 'end'; filter?: EventFilter },
  select: (event: RecordedEvent) => T | null,
): AsyncIterableIterator<T> {
  const queue: T[] = [];
  let wake: (() => void) | null = null;
  let failure: unknown = null;
  let finished = false;
  const subscription: Subscription = store.subscribeToAll({ fromPosition: options.from, filter: options.filter }, (batch) => {
    for (const event of batch.events) {
      const item = select(event);
      if (item !== null) queue.push(item);
    }
    wake?.();
  });
  subscription.done.then(
    () => undefined,
    (error) => {
      failure = error;
      wake?.();
    },
  );

  const finish = async (): Promise<IteratorResult<T>> => {
    finished = true;
    wake?.();
    await subscription.stop();
    return { value: undefined, done: true };
  };

  return {
    async next(): Promise<IteratorResult<T>> {
      for (;;) {
        if (queue.length > 0) return { value: queue.shift()!, done: false };
        if (failure !== null) throw failure;
        if (finished) return { value: undefined, done: true };
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    },
    return: finish,
    async throw(error?: unknown) {
      await finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
