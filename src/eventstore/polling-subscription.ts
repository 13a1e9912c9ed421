import { matchesFilter } from './filter';
import { assertFilter, assertMaxCount } from './validation';
import type { Position, ReadAllFrom, RecordedEvent, SubscribeToAllOptions, Subscription, SubscriptionHandler } from './types';

/** What a store offers for a catch-up subscription that reads pages and waits for news. */
export interface PageSource {
  /** Events after `after` in global order, only those no later write can precede. */
  readPage(after: Position, maxCount: number): Promise<RecordedEvent[]>;
  /** The exclusive start position for 'start', 'end' or a given position. */
  resolveStart(from: ReadAllFrom): Promise<Position>;
  /**
   * Calls the listener when events may have been appended, by this process or (where the store
   * hears of them) another; with the position they reach when it is known, to be read again soon
   * until it is read (another writer's older transaction can keep them out of sight a moment).
   * Returns the unsubscribe.
   */
  onAppend(listener: (reach: Position | null) => void): () => void;
  /** How long to wait for news before reading again: short while other processes' writes go unheard, long while they are heard. */
  readonly pollIntervalMs: number;
  comparePositions(a: Position, b: Position): number;
}

/** The waits before reading again for news not yet in sight (ms): the first, doubled up to the last. */
const REREAD_FIRST_MS = 2;
const REREAD_MAX_MS = 100;

export function pollingSubscription(source: PageSource, options: SubscribeToAllOptions, handler: SubscriptionHandler): Subscription {
  const maxBatch = options.maxBatch ?? 500;
  assertMaxCount(maxBatch, 'maxBatch');
  const gatherMs = options.gatherMs ?? 0;
  assertFilter(options.filter);

  let stopped = false;
  let wake: (() => void) | undefined;
  // An append that lands while a page is being read must not wait for the next poll.
  let news = false;
  /** Where news said events reach, not read yet. */
  let awaited: Position | null = null;
  let rereadMs = REREAD_FIRST_MS;
  /** How far the subscription has read; undefined until it knows where it starts. */
  let position: Position | undefined;
  const nudge = (reach: Position | null = null) => {
    // News of events already read (this process's own append, heard again from the database) is no news.
    if (reach !== null && position !== undefined && source.comparePositions(reach, position) <= 0) return;
    news = true;
    if (reach !== null && (awaited === null || source.comparePositions(reach, awaited) > 0)) awaited = reach;
    wake?.();
  };
  const unsubscribe = source.onAppend(nudge);

  const sleep = async (ms: number) => {
    if (news) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    wake = undefined;
  };

  // After news: a while in which further news does not cut the wait short, and a stop does.
  const gather = async () => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, gatherMs);
      wake = () => {
        if (!stopped) return;
        clearTimeout(timer);
        resolve();
      };
    });
    wake = undefined;
  };

  const run = async () => {
    position = await source.resolveStart(options.fromPosition ?? 'start');
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
      if (awaited !== null && source.comparePositions(position, awaited) >= 0) {
        awaited = null;
        rereadMs = REREAD_FIRST_MS;
      }
      if (!reachedEnd || stopped) continue;
      if (awaited === null) {
        await sleep(source.pollIntervalMs);
        if (news && gatherMs > 0 && !stopped) await gather();
      } else {
        await sleep(rereadMs);
        rereadMs = Math.min(rereadMs * 2, REREAD_MAX_MS);
      }
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
