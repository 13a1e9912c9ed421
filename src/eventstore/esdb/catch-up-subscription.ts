import type { AllStreamSubscription, ResolvedEvent } from '@eventstore/db-client';
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

/**
 * The port's catch-up subscription over EventStoreDB's. Events already buffered go together as
 * one batch (at most maxBatch), and the next batch is read only once the handler is done with
 * this one, so the server is held back rather than memory filled.
 *
 * Caught up is when the reader has passed what was the end of $all when it started, or when the
 * server says so (EventStoreDB 23.10 and later send caught-up; older servers do not).
 */
export function catchUpSubscription(source: SubscriptionSource, options: SubscribeToAllOptions, handler: SubscriptionHandler): Subscription {
  const maxBatch = options.maxBatch ?? 500;
  assertMaxCount(maxBatch, 'maxBatch');
  assertFilter(options.filter);

  let stopped = false;
  let wake: (() => void) | undefined;
  let reader: AllStreamSubscription | undefined;

  const run = async () => {
    const start = await source.resolveStart(options.fromPosition ?? 'start');
    const end = await source.lastPosition();
    if (stopped) return;
    const stream = source.open(start, maxBatch);
    reader = stream;
    let failure: unknown;
    let ended = false;
    let read = 0;
    /** How many events in all had to be read when the server said caught-up. */
    let caughtUpAfter: number | undefined;
    const signal = () => wake?.();
    stream.on('readable', signal);
    stream.on('caughtUp', () => {
      caughtUpAfter ??= read + stream.readableLength;
      signal();
    });
    stream.on('error', (error) => {
      failure ??= error;
      signal();
    });
    stream.on('end', () => {
      ended = true;
      signal();
    });

    let position = start;
    let caughtUp = end === null || compareEsdbPositions(end, start) <= 0;
    let toldCaughtUp = false;
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
      if (failure !== undefined) throw source.translateError(failure);
      if (ended) throw new EventStoreUnavailableError('EventStoreDB ended the subscription');
      // Nothing buffered: 'readable' fires once something is, and nothing can arrive before the listener is set.
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
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
