import { BackplaneError } from '../errors';
import { matchesFilter } from '../eventstore/filter';
import type { EventFilter, EventStore, Position, RecordedEvent } from '../eventstore/types';
import { logTailOf, type TailSubscriber } from './log-tail';

/**
 * Items held for a client that reads slower than the log grows. Past it the client is ended
 * (FeedTooSlowError), so that it never holds back the tail or the other clients.
 */
export const MAX_QUEUED = 1000;
/** How often a client draining a queue has its token checked again (ms). */
const RECHECK_MS = 1000;
/** Events read at once from the log for a client that starts before the tail. */
const BACKLOG_PAGE = 500;

export interface FeedOptions {
  from: Position | 'end';
  filter?: EventFilter;
  /**
   * Asked before items are handed over: false ends the feed with a last item, an
   * UNAUTHENTICATED error for the subscription to throw (a revoked token).
   */
  allowed?: () => Promise<boolean>;
  /** Who `allowed` asks about: feeds of the same `who` share one answer for what arrived together. */
  who?: string;
  /** Items held at most (default MAX_QUEUED). */
  maxQueued?: number;
}

/** What a feed hands over last when it ends early: the subscription throws it. */
export class FeedEndedError extends BackplaneError {}

export class FeedRevokedError extends FeedEndedError {
  constructor() {
    super('UNAUTHENTICATED', 'the API token was revoked');
  }
}

/** The client read slower than events came: subscribing again (from the last cursor received, where the subscription takes one) goes on from there. */
export class FeedTooSlowError extends FeedEndedError {
  constructor(maxQueued: number) {
    super(
      'SUBSCRIPTION_TOO_SLOW',
      `the subscription fell more than ${maxQueued} events behind and was ended; subscribe again (with after: the last cursor received, where it takes one)`,
    );
  }
}

/**
 * Events of the log as an async iterator, for GraphQL subscriptions: every process serves what
 * any process wrote. Fed by the process's one tail of the log (LogTail): a feed that starts
 * before the tail's position reads that stretch from the log itself, holding what the tail hands
 * it meanwhile, then goes on with it, each event once and in order. Returning from the iterator
 * (the client left) leaves the tail.
 */
export function eventFeed<T>(store: EventStore, options: FeedOptions, select: (event: RecordedEvent) => T | null): AsyncIterableIterator<T | FeedEndedError> {
  const tail = logTailOf(store);
  const maxQueued = options.maxQueued ?? MAX_QUEUED;
  /** Ready to hand over; the last `unchecked` of them not yet authorized. */
  const queue: (T | FeedEndedError)[] = [];
  let unchecked = 0;
  /** The tick at which the newest unchecked item arrived. */
  let arrivedAt = 0;
  let checkedAt = Date.now();
  /** What the tail hands over while the stretch before it is read from the log. */
  let held: T[] | null = [];
  /** The stretch still to read from the log: after `after`, up to `until`. */
  let backlog: { after: Position | 'start'; until: Position } | null = null;
  /** Events at or before it are the backlog's or before the start: the tail's are ignored. */
  let from: Position | null = null;
  /** The tail has handed over an event past `from`: all it hands over later lie past it too. */
  let pastFrom = false;
  let finished = false;
  let failure: unknown = null;
  let wakeReader: (() => void) | null = null;
  const wake = () => wakeReader?.();

  const end = (last: FeedEndedError | null) => {
    if (finished) return;
    finished = true;
    tail.leave(subscriber);
    held = null;
    if (last) queue.splice(0, queue.length, last);
    unchecked = 0;
    wake();
  };

  const take = (events: readonly RecordedEvent[], into: { push(item: T): number }): number => {
    let taken = 0;
    for (const event of events) {
      if (!matchesFilter(event, options.filter)) continue;
      const item = select(event);
      if (item === null) continue;
      into.push(item);
      taken += 1;
    }
    return taken;
  };

  const subscriber: TailSubscriber = {
    deliver(events) {
      if (finished) return;
      try {
        let fresh = events;
        if (from !== null && !pastFrom && events.length > 0) {
          fresh = events.filter((event) => store.comparePositions(event.position, from!) > 0);
          pastFrom = fresh.length > 0;
        }
        if (held) {
          take(fresh, held);
        } else {
          const taken = take(fresh, queue);
          if (taken === 0) return;
          unchecked += taken;
          arrivedAt = tail.tick();
        }
        // While the stretch before the tail is read, what the tail hands over is what waits.
        if ((held ? held.length : queue.length) > maxQueued) end(new FeedTooSlowError(maxQueued));
        else wake();
      } catch (error) {
        failure = error;
        end(null);
      }
    },
    fail(error) {
      failure = error;
      end(null);
    },
  };

  const release = () => {
    const live = held ?? [];
    held = null;
    if (live.length === 0) return;
    queue.push(...live);
    unchecked += live.length;
    arrivedAt = tail.tick();
  };

  const started = (async () => {
    from = options.from === 'end' ? await tail.headNow() : options.from;
    const joinedAt = await tail.join(subscriber);
    if (finished) {
      tail.leave(subscriber);
      return;
    }
    if (joinedAt !== null && (from === null || store.comparePositions(from, joinedAt) < 0)) {
      backlog = { after: from ?? 'start', until: joinedAt };
      from = joinedAt;
    } else {
      release();
    }
  })().catch((error: unknown) => {
    failure = error;
    end(null);
  });

  /** Reads the next page of the stretch before the tail; once it is read, what the tail handed over meanwhile follows. */
  const readBacklog = async (stretch: { after: Position | 'start'; until: Position }) => {
    const page = await store.readAll({ fromPosition: stretch.after, maxCount: BACKLOG_PAGE, filter: options.filter });
    if (finished) return;
    const before = page.filter((event) => store.comparePositions(event.position, stretch.until) <= 0);
    const taken = take(before, queue);
    if (taken > 0) {
      unchecked += taken;
      arrivedAt = tail.tick();
    }
    if (page.length < BACKLOG_PAGE || before.length < page.length) {
      backlog = null;
      release();
    } else {
      stretch.after = page[page.length - 1].position;
    }
  };

  const authorized = async (): Promise<boolean> => {
    const ask = options.allowed!;
    checkedAt = Date.now();
    const covered = unchecked;
    const ok = options.who === undefined ? await ask() : await tail.allowed(options.who, arrivedAt, ask);
    if (ok) unchecked = Math.max(0, unchecked - covered);
    return ok;
  };

  const finish = async (): Promise<IteratorResult<T | FeedEndedError>> => {
    end(null);
    queue.length = 0;
    await started;
    return { value: undefined, done: true };
  };

  return {
    async next(): Promise<IteratorResult<T | FeedEndedError>> {
      await started;
      for (;;) {
        if (failure !== null) {
          const error = failure;
          failure = null;
          end(null);
          throw error;
        }
        if (queue.length === 0 && backlog !== null && !finished) {
          await readBacklog(backlog);
          continue;
        }
        if (queue.length > 0 && options.allowed && !finished) {
          // Nothing that arrived is handed over before the token is checked after it arrived,
          // and a queue drained slowly has it checked again: events queued before a revocation
          // are not handed over after it.
          const stale = Date.now() - checkedAt > RECHECK_MS;
          if (queue.length <= unchecked || stale) {
            if (stale) unchecked = queue.length;
            if (!(await authorized())) {
              end(new FeedRevokedError());
              continue;
            }
            continue;
          }
        }
        if (queue.length > 0) return { value: queue.shift()!, done: false };
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
