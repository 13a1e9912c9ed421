import { matchesFilter } from './filter';
import { assertFilter, assertMaxCount } from './validation';
import type { Position, ReadAllFrom, RecordedEvent, SubscribeToAllOptions, Subscription, SubscriptionHandler } from './types';

/** What a store offers for a catch-up subscription that reads pages and waits for news. */
export interface PageSource {
  /** Events after `after` in global order, only those no later write can precede. */
  readPage(after: Position, maxCount: number): Promise<RecordedEvent[]>;
  /** The exclusive start position for 'start', 'end' or a given position. */
  resolveStart(from: ReadAllFrom): Promise<Position>;
  /** Calls the listener when this process has appended; returns the unsubscribe. */
  onAppend(listener: () => void): () => void;
  /** How long to wait for news before reading again (writes of other processes). */
  readonly pollIntervalMs: number;
}

export function pollingSubscription(source: PageSource, options: SubscribeToAllOptions, handler: SubscriptionHandler): Subscription {
  const maxBatch = options.maxBatch ?? 500;
  assertMaxCount(maxBatch, 'maxBatch');
  assertFilter(options.filter);

  let stopped = false;
  let wake: (() => void) | undefined;
  // An append that lands while a page is being read must not wait for the next poll.
  let news = false;
  const nudge = () => {
    news = true;
    wake?.();
  };
  const unsubscribe = source.onAppend(nudge);

  const sleep = async () => {
    if (news) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, source.pollIntervalMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    wake = undefined;
  };

  const run = async () => {
    let position = await source.resolveStart(options.fromPosition ?? 'start');
    let caughtUp = false;
    while (!stopped) {
      news = false;
      const page = await source.readPage(position, maxBatch);
      if (stopped) break;
      const reachedEnd = page.length < maxBatch;
      if (page.length > 0 || (reachedEnd && !caughtUp)) {
        if (page.length > 0) position = page[page.length - 1].position;
        await handler({ events: page.filter((event) => matchesFilter(event, options.filter)), position, caughtUp: reachedEnd });
      }
      caughtUp = reachedEnd;
      if (reachedEnd && !stopped) await sleep();
    }
  };

  const done = run().finally(unsubscribe);
  // A caller that only calls stop() must not see an unhandled rejection; `done` still rejects for those who await it.
  done.catch(() => undefined);
  return {
    done,
    stop: async () => {
      stopped = true;
      nudge();
      await done.catch(() => undefined);
    },
  };
}
