import { DomainError } from '../core/errors';
import type { EventFilter, EventStore, Position, RecordedEvent, Subscription } from '../eventstore/types';

/** Events held for a client that reads slower than the log grows; past it, reading the log waits. */
const MAX_QUEUED = 1000;
/** How often a client draining a queue has its token checked again (ms). */
const RECHECK_MS = 1000;

export interface FeedOptions {
  from: Position | 'end';
  filter?: EventFilter;
  /**
   * Asked before each batch is handed over: false ends the feed with a last item, an
   * UNAUTHENTICATED error for the subscription to throw (a revoked token).
   */
  allowed?: () => Promise<boolean>;
}

/** What a feed hands over last when its reader may no longer read: the subscription throws it. */
export class FeedRevokedError extends DomainError {
  constructor() {
    super('UNAUTHENTICATED', 'the API token was revoked');
  }
}

/**
 * The event store's catch-up subscription as an async iterator, for GraphQL subscriptions: every
 * process serves what any process wrote. Events wait in a bounded queue while the client reads;
 * returning from the iterator (the client left) stops the store subscription.
 */
export function eventFeed<T>(store: EventStore, options: FeedOptions, select: (event: RecordedEvent) => T | null): AsyncIterableIterator<T | FeedRevokedError> {
  const queue: (T | FeedRevokedError)[] = [];
  let checkedAt = Date.now();
  const revoked = () => new FeedRevokedError();
  let failure: unknown = null;
  let finished = false;
  let wakeReader: (() => void) | null = null;
  let wakeWriter: (() => void) | null = null;
  const wake = () => {
    wakeReader?.();
    wakeWriter?.();
  };

  const subscription: Subscription = store.subscribeToAll({ fromPosition: options.from, filter: options.filter }, async (batch) => {
    const items = batch.events.map(select).filter((item): item is T => item !== null);
    if (items.length === 0 || finished) return;
    checkedAt = Date.now();
    if (options.allowed && !(await options.allowed())) {
      // Delivered as the feed's last item: the client hears why it ended, the socket stays open.
      queue.push(revoked());
      finished = true;
      wake();
      void subscription.stop();
      return;
    }
    queue.push(...items);
    wake();
    while (queue.length > MAX_QUEUED && !finished) await new Promise<void>((resolve) => (wakeWriter = resolve));
    wakeWriter = null;
  });
  subscription.done.then(
    () => {
      finished = true;
      wake();
    },
    (error) => {
      failure = error;
      wake();
    },
  );

  const finish = async (): Promise<IteratorResult<T | FeedRevokedError>> => {
    finished = true;
    wake();
    await subscription.stop();
    return { value: undefined, done: true };
  };

  return {
    async next(): Promise<IteratorResult<T | FeedRevokedError>> {
      for (;;) {
        if (failure !== null) {
          await subscription.stop();
          throw failure;
        }
        if (queue.length > 0 && options.allowed && !finished && Date.now() - checkedAt > RECHECK_MS) {
          // Events queued before a revocation are not handed over after it.
          checkedAt = Date.now();
          if (!(await options.allowed())) {
            queue.splice(0, queue.length, revoked());
            finished = true;
            void subscription.stop();
          }
        }
        if (queue.length > 0) {
          const value = queue.shift()!;
          if (queue.length <= MAX_QUEUED) wakeWriter?.();
          return { value, done: false };
        }
        if (finished) return { value: undefined, done: true };
        await new Promise<void>((resolve) => (wakeReader = resolve));
        wakeReader = null;
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
