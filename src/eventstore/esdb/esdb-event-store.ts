import {
  BACKWARDS,
  END,
  type EventStoreDBClient,
  FORWARDS,
  START,
  StreamNotFoundError,
  type ReadAllOptions as EsdbReadAllOptions,
  type ReadStreamOptions as EsdbReadStreamOptions,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { AppendTooLargeError } from '../errors';
import { matchesFilter } from '../filter';
import type {
  AppendOptions,
  AppendResult,
  EventData,
  EventFilter,
  EventStore,
  Position,
  ReadAllFrom,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeToAllOptions,
  Subscription,
  SubscriptionHandler,
} from '../types';
import { assertExpectedRevision, assertStreamName, checkReadAll, checkReadStream, validateBatch } from '../validation';
import { EsdbAppender } from './append';
import { catchUpSubscription } from './catch-up-subscription';
import { translateClientError } from './client-errors';
import { createClient } from './client';
import { splitConnectionString } from './connection-string';
import { LogTail } from './log-tail';
import { compareEsdbPositions, isLogStart, LOG_START, parsePosition, type EsdbPosition } from './position';
import { appendSize, toRecordedEvent } from './records';
import { serverFilter } from './server-filter';
import { StreamTails } from './stream-tails';

/** $all is read in pages of about this many records. */
const MAX_PAGE = 4096;
/** Records read at once when passing what a subscription's filter drops: about what comes between two polls. */
const FILTERED_PAGE = 256;
/** EventStoreDB's MaxAppendSize unless its configuration says otherwise. */
export const DEFAULT_MAX_APPEND_SIZE = 1024 * 1024;

export interface EsdbOptions {
  /** The server's MaxAppendSize, in bytes: larger appends are refused before anything is sent. */
  maxAppendSize?: number;
  /** How often, while subscriptions are open, the end of $all is looked up (100 ms unless told): see log-tail.ts. */
  tailPollMs?: number;
}

/**
 * The event store on EventStoreDB, through its official gRPC client. Revisions, expected
 * revisions, idempotent retries, $all and catch-up subscriptions are EventStoreDB's own; the
 * adapter adds what the port promises beyond them: the per-stream hash chain (kept in each event's
 * metadata, appended in one write on a warm stream: append.ts) and opaque positions.
 *
 * What the port promises about event ids holds here within a stream only. An append sent again
 * with the same ids at the same expected revision succeeds without writing, with its first
 * outcome (EventStoreDB's own idempotency); with 'any' or 'stream_exists' it is recognised while
 * its events are the stream's last, and a batch sharing only some ids with them, or all of them
 * with other content, is refused with DUPLICATE_EVENT_ID. An id already recorded in another stream is not detected, and is written
 * again there: EventStoreDB has no multi-stream transaction to make such a check exact.
 */
export class EsdbEventStore implements EventStore {
  private readonly subscriptions = new Set<Subscription>();
  private readonly tails = new StreamTails();
  private readonly appender: EsdbAppender;
  private readonly tail: LogTail;

  private constructor(
    private readonly client: EventStoreDBClient,
    /** For messages: the hosts, never the user or password. */
    readonly hosts: string,
    private readonly maxAppendSize: number,
    tailPollMs: number,
  ) {
    this.appender = new EsdbAppender({ client }, this.tails);
    this.tail = new LogTail(() => this.lastPosition(), tailPollMs);
  }

  /** Connects lazily: the first call reaches the server, and each call after a failure tries again. */
  static connect(connectionString: string, options: EsdbOptions = {}): EsdbEventStore {
    const { withoutCredentials, credentials, hosts } = splitConnectionString(connectionString);
    const maxAppendSize = options.maxAppendSize ?? DEFAULT_MAX_APPEND_SIZE;
    return new EsdbEventStore(createClient(withoutCredentials, credentials), hosts, maxAppendSize, options.tailPollMs ?? 100);
  }

  async appendToStream(stream: string, events: EventData[], options: AppendOptions = {}): Promise<AppendResult> {
    assertStreamName(stream);
    const expected = options.expectedRevision ?? 'any';
    assertExpectedRevision(expected);
    const batch = validateBatch(events);
    const size = appendSize(batch);
    if (size > this.maxAppendSize) throw new AppendTooLargeError(stream, this.maxAppendSize, size);
    // Ids the caller named may be those of events already stored (append.ts), unless it drew them just now.
    const namedIds = options.freshIds !== true && events.some((event) => event.id !== undefined);
    return this.translating(stream, () => this.appender.append(stream, expected, batch, namedIds));
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const { forwards, from, maxCount } = checkReadStream(stream, options);
    if (forwards && from === 'end') return [];
    return this.translating(stream, async () => {
      const read = this.client.readStream(stream, { fromRevision: from, direction: forwards ? FORWARDS : BACKWARDS, maxCount } satisfies EsdbReadStreamOptions);
      const found = (await this.collect(read)).map(toRecordedEvent).filter((event): event is RecordedEvent => event !== undefined);
      // Read up to the stream's end: the next append to it can go without reading it again.
      if (forwards && (maxCount === undefined || found.length < maxCount)) this.tails.learn(stream, found);
      else if (!forwards && from === 'end') this.tails.learn(stream, [...found].reverse());
      return found;
    });
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const { forwards, from, maxCount } = checkReadAll(options);
    const cursor = from === 'start' ? LOG_START : from === 'end' ? 'end' : parsePosition(from);
    const wanted = maxCount ?? Number.POSITIVE_INFINITY;
    const kept: RecordedEvent[] = [];
    await this.translating(undefined, () =>
      this.scanAll(cursor, forwards, wanted, (resolved) => {
        const event = toRecordedEvent(resolved);
        if (event && matchesFilter(event, options.filter)) kept.push(event);
        return kept.length < wanted;
      }),
    );
    return kept;
  }

  /**
   * Walks $all from a position, exclusive, giving every record to `take` until it answers false
   * or the log ends. Pages hold system events as well as Backplane's events.
   */
  private async scanAll(from: EsdbPosition | 'end', forwards: boolean, wanted: number, take: (resolved: ResolvedEvent) => boolean): Promise<void> {
    if (from === 'end' ? forwards : !forwards && isLogStart(from)) return;
    let cursor = from;
    for (;;) {
      // One record of $all per event, but for system records: a page of about what is wanted.
      const page = Math.min(MAX_PAGE, Math.max(64, wanted));
      // EventStoreDB reads forwards from a position including it: one more record, and that one skipped.
      const inclusive = forwards && cursor !== 'end' && !isLogStart(cursor);
      const start = cursor === 'end' ? END : isLogStart(cursor) ? START : forwards ? cursor : backwardsFrom(cursor);
      const read: EsdbReadAllOptions = { fromPosition: start, direction: forwards ? FORWARDS : BACKWARDS, maxCount: page + (inclusive ? 1 : 0) };
      const records = await this.collect(this.client.readAll(read));
      const bound = cursor;
      const fresh = records.filter((resolved) => {
        const at = resolved.event?.position;
        if (!at || bound === 'end') return at !== undefined;
        const order = compareEsdbPositions(at, bound);
        return forwards ? order > 0 : order < 0;
      });
      for (const resolved of fresh) if (!take(resolved)) return;
      if (records.length < page + (inclusive ? 1 : 0) || fresh.length === 0) return;
      cursor = fresh[fresh.length - 1].event!.position!;
    }
  }

  subscribeToAll(options: SubscribeToAllOptions, handler: SubscriptionHandler): Subscription {
    const subscription = catchUpSubscription(
      {
        resolveStart: async (from: ReadAllFrom) =>
          from === 'start' ? LOG_START : from === 'end' ? ((await this.lastPosition()) ?? LOG_START) : parsePosition(from),
        lastPosition: () => this.lastPosition(),
        open: async (from, buffer, filter, onCheckpoint) => {
          const after = await this.subscriptionStart(from);
          return this.client.subscribeToAll(
            { fromPosition: isLogStart(after) ? (START as typeof START) : after, filter: serverFilter(filter, onCheckpoint) },
            { highWaterMark: buffer },
          );
        },
        passFiltered: (from, filter) => this.passFiltered(from, filter),
        watchTail: (listener) => this.tail.watch(listener),
        toRecordedEvent,
        translateError: (error: unknown) => translateClientError(error, this.hosts),
      },
      options,
      handler,
    );
    this.subscriptions.add(subscription);
    void subscription.done.finally(() => this.subscriptions.delete(subscription)).catch(() => undefined);
    return subscription;
  }

  /**
   * Where to subscribe from to get what follows `from`. EventStoreDB starts a subscription after
   * the first record at or after the position it is given, which is what follows an event's own
   * position; but a checkpoint it sends while catching up may be the start of a page, (C, 0), where
   * C is the next record's place, which that record would then be skipped from. The record before
   * it is the start instead.
   */
  private async subscriptionStart(from: EsdbPosition): Promise<EsdbPosition> {
    if (from.prepare !== 0n || isLogStart(from)) return from;
    const [before] = await this.translating(undefined, () =>
      this.collect(this.client.readAll({ fromPosition: backwardsFrom(from), direction: BACKWARDS, maxCount: 1 })),
    );
    return before?.event?.position ?? LOG_START;
  }

  /** The furthest record after `from` with nothing the filter keeps between (subscription.ts). */
  private async passFiltered(from: EsdbPosition, filter: EventFilter | undefined): Promise<EsdbPosition> {
    let passed = from;
    await this.translating(undefined, () =>
      this.scanAll(from, true, FILTERED_PAGE, (resolved) => {
        const event = toRecordedEvent(resolved);
        if (event && matchesFilter(event, filter)) return false;
        passed = resolved.event?.position ?? passed;
        return true;
      }),
    );
    return passed;
  }

  async headPosition(): Promise<Position | null> {
    const [last] = await this.readAll({ direction: 'backwards', maxCount: 1 });
    return last?.position ?? null;
  }

  /** The last record of $all, whatever its stream: one record read. */
  private async lastPosition(): Promise<EsdbPosition | null> {
    const [last] = await this.translating(undefined, () => this.collect(this.client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1 })));
    return last?.event?.position ?? null;
  }

  comparePositions(a: Position, b: Position): number {
    return compareEsdbPositions(parsePosition(a), parsePosition(b));
  }

  /** Walks the whole of $all. */
  async countEvents(): Promise<number> {
    let count = 0;
    await this.translating(undefined, () =>
      this.scanAll(LOG_START, true, Number.POSITIVE_INFINITY, (resolved) => {
        if (toRecordedEvent(resolved)) count += 1;
        return true;
      }),
    );
    return count;
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((subscription) => subscription.stop()));
    await this.client.dispose();
  }

  private async collect(read: AsyncIterable<ResolvedEvent>): Promise<ResolvedEvent[]> {
    const found: ResolvedEvent[] = [];
    try {
      for await (const resolved of read) found.push(resolved);
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
    }
    return found;
  }

  private async translating<T>(stream: string | undefined, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw translateClientError(error, this.hosts, stream);
    }
  }
}

/**
 * Where to read $all backwards from to get what lies before `position`. EventStoreDB keeps a record
 * of such a read only when its end, taken as (end, end), is at or before the position given; the
 * record before a page start (C, 0) ends at C, and (C, C) is past (C, 0): it would be left out.
 * From (C, C) it is kept, and the record at C is not (it ends after C).
 */
function backwardsFrom(position: EsdbPosition): EsdbPosition {
  return position.prepare === 0n && !isLogStart(position) ? { commit: position.commit, prepare: position.commit } : position;
}
