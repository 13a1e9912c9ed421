import { TimeoutError, type AllStreamSubscription, type ResolvedEvent } from '@eventstore/db-client';
import { EventStoreUnavailableError } from '../errors';
import { matchesFilter } from '../filter';
import type { ReadAllFrom, RecordedEvent, SubscribeToAllOptions, Subscription, SubscriptionHandler } from '../types';
import { assertFilter, assertMaxCount } from '../validation';
import { compareEsdbPositions, formatPosition, type EsdbPosition } from './position';

/** What the store offers a subscription. */
export interface SubscriptionSource {
  /** The exclusive start for 'start', 'end' or a position. */
  resolveStart(from: ReadAllFrom): Promise<EsdbPosition>;
  /** The position of the last record of $all, whatever its stream, or null when it is empty. */
  lastPosition(): Promise<EsdbPosition | null>;
  /** EventStoreDB's subscription to $all after `from`, buffering at most `buffer` events. */
  open(from: EsdbPosition, buffer: number): AllStreamSubscription;
  toRecordedEvent(resolved: ResolvedEvent): RecordedEvent | undefined;
  translateError(error: unknown): unknown;
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
 * A server that drops the subscription because the handler is slower than the log grows
 * (EventStoreDB 23.10) is subscribed to again from the last event delivered, inside this
 * subscription: the handler sees nothing of it, and nothing twice. Other failures end it.
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

  const run = async () => {
    let position = await source.resolveStart(options.fromPosition ?? 'start');
    let end = await source.lastPosition();
    let caughtUp = end === null || compareEsdbPositions(end, position) <= 0;
    let toldCaughtUp = false;
    let dropsWithoutProgress = 0;

    /** Follows one subscription of the server's until it fails or ends; answers why. */
    const follow = async (stream: AllStreamSubscription): Promise<{ failure: unknown } | 'stopped'> => {
      let failure: unknown;
      let ended = false;
      let read = 0;
      /** How many events in all had to be read when the server said caught-up. */
      let caughtUpAfter: number | undefined;
      const signal = () => wake?.();
      stream.on('readable', signal);
      stream.on('caughtUp', () => {
        caughtUpAfter = read + stream.readableLength;
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
        while (taken < maxBatch) {
          const resolved = stream.read() as ResolvedEvent | null;
          if (resolved === null) break;
          taken += 1;
          const at = resolved.event?.position;
          // Exclusive start, whatever the server does with the position it was given.
          if (!at || compareEsdbPositions(at, position) <= 0) continue;
          position = at;
          dropsWithoutProgress = 0;
          const event = source.toRecordedEvent(resolved);
          if (event && matchesFilter(event, options.filter)) events.push(event);
        }
        read += taken;
        caughtUp ||= (caughtUpAfter !== undefined && read >= caughtUpAfter) || (end !== null && compareEsdbPositions(position, end) >= 0);
        const atEnd = caughtUp && stream.readableLength === 0;
        if (taken > 0 || (atEnd && !toldCaughtUp)) {
          toldCaughtUp ||= atEnd;
          await handler({ events, position: formatPosition(position), caughtUp: atEnd });
          continue;
        }
        if (failure !== undefined) return { failure };
        if (ended) return { failure: new EventStoreUnavailableError('EventStoreDB ended the subscription') };
        // Nothing buffered: 'readable' fires once something is, and nothing can arrive before the listener is set.
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      return 'stopped';
    };

    for (;;) {
      if (stopped) return;
      const stream = source.open(position, maxBatch);
      reader = stream;
      const outcome = await follow(stream);
      if (outcome === 'stopped') return;
      void stream.unsubscribe().catch(() => undefined);
      if (!isSlowConsumerDrop(outcome.failure) || ++dropsWithoutProgress > DROPS_WITHOUT_PROGRESS) throw source.translateError(outcome.failure);
    }
  };

  const done = run().finally(() => reader?.unsubscribe());
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
