import { TimeoutError, type AllStreamSubscription, type ResolvedEvent } from '@eventstore/db-client';
import { EventStoreUnavailableError } from '../errors';
import { matchesFilter } from '../filter';
import type { EventFilter, ReadAllFrom, RecordedEvent, SubscribeToAllOptions, Subscription, SubscriptionHandler } from '../types';
import { assertFilter, assertMaxCount } from '../validation';
import { compareEsdbPositions, formatPosition, type EsdbPosition } from './position';

/** What the store offers a subscription. */
export interface SubscriptionSource {
  /** The exclusive start for 'start', 'end' or a position. */
  resolveStart(from: ReadAllFrom): Promise<EsdbPosition>;
  /** The position of the last record of $all, whatever its stream, or null when it is empty. */
  lastPosition(): Promise<EsdbPosition | null>;
  /**
   * EventStoreDB's subscription to $all after `from`, filtered on the server as far as it can
   * apply `filter`, buffering at most `buffer` events; each of the server's checkpoints goes to
   * `onCheckpoint` with the number of records buffered before it.
   */
  open(
    from: EsdbPosition,
    buffer: number,
    filter: EventFilter | undefined,
    onCheckpoint: (position: EsdbPosition, buffered: number) => void,
  ): Promise<AllStreamSubscription>;
  /**
   * The furthest record of $all after `from` with nothing the filter keeps between: `from` itself
   * when the next record is kept or there is none.
   */
  passFiltered(from: EsdbPosition, filter: EventFilter | undefined): Promise<EsdbPosition>;
  /** Calls the listener as the end of $all moves on; returns the unwatch. */
  watchTail(listener: (head: EsdbPosition) => void): () => void;
  toRecordedEvent(resolved: ResolvedEvent): RecordedEvent | undefined;
  translateError(error: unknown): unknown;
}

/** How far one of the server's subscriptions has been read, and its checkpoints not yet reached. */
interface Progress {
  /** Records taken from the subscription. */
  read: number;
  /** Each checkpoint with the number of records sent before it. */
  checkpoints: { after: number; position: EsdbPosition }[];
}

/** Drops for a slow consumer in a row, with nothing delivered in between, before the subscription gives up. */
const DROPS_WITHOUT_PROGRESS = 3;

/**
 * EventStoreDB 23.10 ends a live subscription whose client does not take events fast enough
 * (Aborted, "Consumer too slow … Client resubscription required"); the client sees a timeout.
 */
function isSlowConsumerDrop(error: unknown): boolean {
  return error instanceof TimeoutError && /too slow/i.test(error.message);
}

/**
 * The port's catch-up subscription over EventStoreDB's. Events already buffered go together as
 * one batch (at most maxBatch), and the next batch is read only once the handler is done with
 * this one, so the server is held back rather than memory filled.
 *
 * EventStoreDB filters the subscription itself (server-filter.ts), so records the port's filter
 * drops are mostly not sent. Its position still moves past them: by the server's checkpoints
 * (every 32 records it looks at, delivered as a batch without events), and, once caught up, by
 * reading on from the last position to the end of $all when the end has moved (at caught-up, and
 * whenever the store sees the end move: log-tail.ts): the records read up to the first one the
 * filter keeps are passed at once. A read-on that stops at a kept event the server has not sent
 * yet reads on again once that event's batch is delivered, as far as the last end heard. So a
 * subscription whose filter drops the last writes reaches the end of the log within a poll, as
 * consumers waiting for a position need.
 *
 * A server that drops the subscription because the handler is slower than the log grows
 * (EventStoreDB 23.10) is subscribed to again from the last position, inside this subscription:
 * the handler sees nothing of it, and nothing twice. Other failures end it.
 *
 * Caught up is when the reader has passed what was the end of $all when it started, or when the
 * server says so (EventStoreDB 23.10 and later send caught-up; older servers do not); a server
 * that says the subscription fell behind (EventStoreDB 24.x) makes it not caught up until the
 * server says caught-up again.
 */
export function catchUpSubscription(source: SubscriptionSource, options: SubscribeToAllOptions, handler: SubscriptionHandler): Subscription {
  const maxBatch = options.maxBatch ?? 500;
  assertMaxCount(maxBatch, 'maxBatch');
  assertFilter(options.filter);

  let stopped = false;
  let wake: (() => void) | undefined;
  let reader: AllStreamSubscription | undefined;
  let unwatch: (() => void) | undefined;

  const run = async () => {
    let position = await source.resolveStart(options.fromPosition ?? 'start');
    let end = await source.lastPosition();
    let caughtUp = end === null || compareEsdbPositions(end, position) <= 0;
    let toldCaughtUp = false;
    let dropsWithoutProgress = 0;
    /** The end of $all has moved past the position since it was last read on to. */
    let tailMoved = false;
    /** The furthest end of $all heard from the store's watch of it. */
    let head: EsdbPosition | undefined;
    unwatch = source.watchTail((end) => {
      if (head === undefined || compareEsdbPositions(end, head) > 0) head = end;
      if (compareEsdbPositions(end, position) <= 0) return;
      tailMoved = true;
      wake?.();
    });
    /** The end heard lies past the position: what the filter drops up to it is still to be passed. */
    const behindHead = () => head !== undefined && compareEsdbPositions(head, position) > 0;

    /** Moves the position forward, never back; answers whether it moved. */
    const advance = (to: EsdbPosition): boolean => {
      if (compareEsdbPositions(to, position) <= 0) return false;
      position = to;
      dropsWithoutProgress = 0;
      return true;
    };

    /** Follows one subscription of the server's until it fails or ends; answers why. */
    const follow = async (progress: Progress, stream: AllStreamSubscription): Promise<{ failure: unknown } | 'stopped'> => {
      const { checkpoints } = progress;
      let failure: unknown;
      let ended = false;
      /** How many events in all had to be read when the server said caught-up. */
      let caughtUpAfter: number | undefined;
      const signal = () => wake?.();
      stream.on('readable', signal);
      stream.on('caughtUp', () => {
        caughtUpAfter = progress.read + stream.readableLength;
        // What the server's filter dropped after the last record it sent is passed by reading on.
        tailMoved = true;
        signal();
      });
      stream.on('fellBehind', () => {
        caughtUp = false;
        caughtUpAfter = undefined;
        end = null;
        toldCaughtUp = false;
      });
      stream.on('error', (error) => {
        failure ??= error;
        signal();
      });
      stream.on('end', () => {
        ended = true;
        signal();
      });

      while (!stopped) {
        const events: RecordedEvent[] = [];
        let taken = 0;
        let moved = false;
        while (taken < maxBatch) {
          // A checkpoint comes after the records sent before it: a batch of events ends there, and it goes alone.
          const checkpoint = checkpoints[0];
          if (checkpoint !== undefined && checkpoint.after <= progress.read) {
            if (events.length > 0) break;
            checkpoints.shift();
            moved = advance(checkpoint.position) || moved;
            continue;
          }
          // A read can make the client take in further messages before it returns, checkpoints among them, while
          // this record still counts as buffered: it counts as read once read() returns.
          const resolved = stream.read() as ResolvedEvent | null;
          if (resolved === null) break;
          taken += 1;
          progress.read += 1;
          const at = resolved.event?.position;
          // Exclusive start, whatever the server does with the position it was given.
          if (!at || !advance(at)) continue;
          const event = source.toRecordedEvent(resolved);
          if (event && matchesFilter(event, options.filter)) events.push(event);
        }
        caughtUp ||= (caughtUpAfter !== undefined && progress.read >= caughtUpAfter) || (end !== null && compareEsdbPositions(position, end) >= 0);
        const atEnd = caughtUp && stream.readableLength === 0 && checkpoints.length === 0;
        if (taken > 0 || moved || (atEnd && !toldCaughtUp)) {
          toldCaughtUp ||= atEnd;
          await handler({ events, position: formatPosition(position), caughtUp: atEnd });
          // A read-on may have stopped at a kept event the server had not sent yet: once it has, read on past it.
          tailMoved ||= behindHead();
          continue;
        }
        if (failure !== undefined) return { failure };
        if (ended) return { failure: new EventStoreUnavailableError('EventStoreDB ended the subscription') };
        if (atEnd && tailMoved) {
          // Read on again only once something moves: a read-on that stopped short of the end heard
          // stopped at a kept event still to come from the server, and its batch sets this again.
          tailMoved = false;
          // Nothing the filter keeps lies between: whatever the server sends later comes after it.
          if (advance(await source.passFiltered(position, options.filter))) {
            await handler({ events: [], position: formatPosition(position), caughtUp: stream.readableLength === 0 && checkpoints.length === 0 });
          }
          continue;
        }
        // Nothing buffered: 'readable' fires once something is, and nothing can arrive before the listener is set.
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      return 'stopped';
    };

    for (;;) {
      if (stopped) return;
      const progress: Progress = { read: 0, checkpoints: [] };
      // The client calls back with a checkpoint once the records sent before it are buffered.
      const onCheckpoint = (at: EsdbPosition, buffered: number) => {
        progress.checkpoints.push({ after: progress.read + buffered, position: at });
        wake?.();
      };
      const stream = await source.open(position, maxBatch, options.filter, onCheckpoint);
      reader = stream;
      const outcome = await follow(progress, stream);
      if (outcome === 'stopped') return;
      void stream.unsubscribe().catch(() => undefined);
      if (!isSlowConsumerDrop(outcome.failure) || ++dropsWithoutProgress > DROPS_WITHOUT_PROGRESS) throw source.translateError(outcome.failure);
    }
  };

  const done = run().finally(() => {
    unwatch?.();
    return reader?.unsubscribe();
  });
  // A caller that only calls stop() must not see an unhandled rejection; `done` still rejects for those who await it.
  done.catch(() => undefined);
  return {
    done,
    stop: async () => {
      stopped = true;
      wake?.();
      await done.catch(() => undefined);
    },
  };
}
