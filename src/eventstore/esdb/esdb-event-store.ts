import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  START,
  StreamDeletedError as EsdbStreamDeleted,
  StreamNotFoundError,
  WrongExpectedVersionError as EsdbWrongExpectedVersion,
  type Credentials,
  type EventData as EsdbEventData,
  type ReadAllOptions as EsdbReadAllOptions,
  type ReadStreamOptions as EsdbReadStreamOptions,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { DuplicateEventIdError, StreamDeletedError, WrongExpectedVersionError } from '../errors';
import { matchesFilter } from '../filter';
import { chainHash, contentHash, GENESIS_HASH } from '../hash-chain';
import type {
  AppendOptions,
  AppendResult,
  EventData,
  EventStore,
  ExpectedRevision,
  Position,
  ReadAllFrom,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeToAllOptions,
  Subscription,
  SubscriptionHandler,
} from '../types';
import { assertExpectedRevision, assertStreamName, checkReadAll, checkReadStream, validateBatch, type ValidEvent } from '../validation';
import { catchUpSubscription } from './catch-up-subscription';
import { translateClientError } from './client-errors';
import { splitConnectionString } from './connection-string';
import { claimIds, type ClaimIo, type RecordedId } from './id-claims';
import { compareEsdbPositions, formatPosition, isLogStart, LOG_START, parsePosition, type EsdbPosition } from './position';
import { toEsdbEvent, toRecordedEvent } from './records';

/** The stream's last event as the hash chain needs it. */
interface Tail {
  revision: bigint;
  hash: string;
}

/** $all is read in pages of about this many records; the id claims take about half of them. */
const MAX_PAGE = 4096;
/** Appends with 'any' that lost a race to another writer start again from the stream's new end this many times. */
const ANY_ATTEMPTS = 10;

/**
 * The event store on EventStoreDB, through its official gRPC client. Revisions, expected
 * revisions, $all and catch-up subscriptions are EventStoreDB's own; the adapter adds what the
 * port promises beyond them: the per-stream hash chain (kept in each event's metadata), event
 * ids unique across the log (id-claims.ts), and opaque positions (commit and prepare).
 */
export class EsdbEventStore implements EventStore {
  private readonly subscriptions = new Set<Subscription>();

  private constructor(
    private readonly client: EventStoreDBClient,
    private readonly credentials: Credentials | undefined,
    /** For messages: the hosts, never the user or password. */
    readonly hosts: string,
  ) {}

  /** Connects lazily: the first call reaches the server, and each call after a failure tries again. */
  static connect(connectionString: string): EsdbEventStore {
    const { withoutCredentials, credentials, hosts } = splitConnectionString(connectionString);
    return new EsdbEventStore(EventStoreDBClient.connectionString(withoutCredentials), credentials, hosts);
  }

  async appendToStream(stream: string, events: EventData[], options: AppendOptions = {}): Promise<AppendResult> {
    assertStreamName(stream);
    const expected = options.expectedRevision ?? 'any';
    assertExpectedRevision(expected);
    const batch = validateBatch(events);
    return this.translating(stream, async () => {
      for (let attempt = 1; ; attempt++) {
        const outcome = await this.appendOnce(stream, expected, batch);
        if (outcome !== 'moved') return outcome;
        if (attempt >= ANY_ATTEMPTS) throw new WrongExpectedVersionError(stream, expected, (await this.tail(stream))?.revision ?? 'no_stream');
      }
    });
  }

  /**
   * One attempt: read the stream's end, chain the events to it and write them expecting exactly
   * that end, so that the chain holds whatever else writes. 'moved' when another writer got there
   * first and the caller's expected revision allows trying again at the new end.
   */
  private async appendOnce(stream: string, expected: ExpectedRevision, batch: ValidEvent[]): Promise<AppendResult | 'moved'> {
    const tail = await this.tail(stream);
    const actual = tail?.revision ?? -1n;
    if (!accepts(expected, actual)) return this.repeatedAppend(stream, expected, batch, tail);

    let previous = tail?.hash ?? GENESIS_HASH;
    const proposed = batch.map((event, i) => {
      previous = chainHash(previous, stream, actual + 1n + BigInt(i), contentHash(event));
      return toEsdbEvent(event, previous);
    });
    const recorded = await claimIds(
      this.claimIo(),
      stream,
      batch.map((event, i) => ({ id: event.id, revision: actual + 1n + BigInt(i) })),
    );
    if (recorded.length > 0) return this.alreadyRecorded(stream, batch, recorded);

    try {
      const result = await this.client.appendToStream(
        stream,
        proposed,
        this.withCredentials({ expectedRevision: tail ? tail.revision : ('no_stream' as const) }),
      );
      return { nextExpectedRevision: result.nextExpectedRevision, position: await this.lastWritten(stream, result, batch.length) };
    } catch (error) {
      if (!(error instanceof EsdbWrongExpectedVersion)) throw error;
      if (expected === 'any' || expected === 'stream_exists') return 'moved';
      const current = error.actualVersion;
      throw new WrongExpectedVersionError(stream, expected, typeof current === 'bigint' ? current : 'no_stream');
    }
  }

  /** The stream is not where the caller expects: a retry of an append already made there succeeds, as the port promises. */
  private async repeatedAppend(stream: string, expected: ExpectedRevision, batch: ValidEvent[], tail: Tail | null): Promise<AppendResult> {
    const first = expected === 'no_stream' ? 0n : typeof expected === 'bigint' ? expected + 1n : undefined;
    if (first !== undefined && tail && tail.revision >= first + BigInt(batch.length) - 1n) {
      const found = await this.readStream(stream, { fromRevision: first, maxCount: batch.length });
      if (found.every((event, i) => event.id === batch[i].id))
        return { nextExpectedRevision: found[found.length - 1].revision, position: found[found.length - 1].position };
    }
    throw new WrongExpectedVersionError(stream, expected, tail ? tail.revision : 'no_stream');
  }

  /** Some ids are recorded already: a retry when all of them are, in this stream and in this order; refused otherwise. */
  private alreadyRecorded(stream: string, batch: ValidEvent[], recorded: RecordedId[]): AppendResult {
    const byId = new Map(recorded.map((place) => [place.id, place]));
    const places = batch.map((event) => byId.get(event.id));
    const retry = places.every((place, i) => place !== undefined && place.stream === stream && place.revision === places[0]!.revision + BigInt(i));
    if (!retry)
      throw new DuplicateEventIdError(
        stream,
        recorded.map((place) => place.id),
      );
    const last = places[places.length - 1]!;
    return { nextExpectedRevision: last.revision, position: formatPosition(last.position) };
  }

  /**
   * The position of the last event an append wrote. For one event it is the position the server
   * answered; for several, that answer is the transaction's and the last event is read back.
   */
  private async lastWritten(stream: string, result: { nextExpectedRevision: bigint; position?: EsdbPosition }, count: number): Promise<Position> {
    if (count === 1 && result.position) return formatPosition(result.position);
    const last = await this.eventAt(stream, result.nextExpectedRevision);
    return formatPosition(last!.event!.position!);
  }

  /** The stream's last event, or null when it has none. A stream deleted behind Backplane's back is refused. */
  private async tail(stream: string): Promise<Tail | null> {
    const last = await this.eventAt(stream, 'last');
    if (last?.event) return { revision: last.event.revision, hash: toRecordedEvent(last)?.hash ?? '' };
    // A soft-deleted stream reads as missing, but EventStoreDB would number new events after the
    // deleted ones, away from the chain: its metadata stream tells.
    const { metadata } = await this.client.getStreamMetadata(stream, this.withCredentials({}));
    if (metadata?.truncateBefore !== undefined) throw new StreamDeletedError(stream);
    return null;
  }

  private async eventAt(stream: string, revision: bigint | 'last'): Promise<ResolvedEvent | undefined> {
    const options: EsdbReadStreamOptions = revision === 'last' ? { fromRevision: END, direction: BACKWARDS } : { fromRevision: revision, direction: FORWARDS };
    const [found] = await this.collect(this.client.readStream(stream, this.withCredentials({ ...options, maxCount: 1 })));
    return revision === 'last' || found?.event?.revision === revision ? found : undefined;
  }

  private claimIo(): ClaimIo {
    return {
      append: (stream: string, events: EsdbEventData[], expectedRevision: 'no_stream' | bigint) =>
        this.client.appendToStream(stream, events, this.withCredentials({ expectedRevision })),
      // A claim that names a tombstoned stream names nothing recorded; any other failure is the append's.
      eventAt: (stream: string, revision: bigint | 'last') =>
        this.eventAt(stream, revision).catch((error: unknown) => {
          if (error instanceof EsdbStreamDeleted) return undefined;
          throw error;
        }),
    };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const { forwards, from, maxCount } = checkReadStream(stream, options);
    if (forwards && from === 'end') return [];
    return this.translating(stream, async () => {
      const read = this.client.readStream(
        stream,
        this.withCredentials<EsdbReadStreamOptions>({ fromRevision: from, direction: forwards ? FORWARDS : BACKWARDS, maxCount }),
      );
      return (await this.collect(read)).map(toRecordedEvent).filter((event): event is RecordedEvent => event !== undefined);
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
   * or the log ends. Pages hold system events and id claims as well as Backplane's events.
   */
  private async scanAll(from: EsdbPosition | 'end', forwards: boolean, wanted: number, take: (resolved: ResolvedEvent) => boolean): Promise<void> {
    if (from === 'end' ? forwards : !forwards && isLogStart(from)) return;
    let cursor = from;
    for (;;) {
      const page = Math.min(MAX_PAGE, Math.max(64, 2 * wanted));
      // EventStoreDB reads forwards from a position including it: one more record, and that one skipped.
      const inclusive = forwards && cursor !== 'end' && !isLogStart(cursor);
      const start = cursor === 'end' ? END : isLogStart(cursor) ? START : cursor;
      const read: EsdbReadAllOptions = { fromPosition: start, direction: forwards ? FORWARDS : BACKWARDS, maxCount: page + (inclusive ? 1 : 0) };
      const records = await this.collect(this.client.readAll(this.withCredentials(read)));
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
        open: (from: EsdbPosition, buffer: number) =>
          this.client.subscribeToAll(this.withCredentials({ fromPosition: isLogStart(from) ? (START as typeof START) : from }), { highWaterMark: buffer }),
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

  async headPosition(): Promise<Position | null> {
    const [last] = await this.readAll({ direction: 'backwards', maxCount: 1 });
    return last?.position ?? null;
  }

  /** The last record of $all, whatever its stream. */
  private async lastPosition(): Promise<EsdbPosition | null> {
    let last: EsdbPosition | null = null;
    await this.translating(undefined, () =>
      this.scanAll('end', false, 1, (resolved) => {
        last = resolved.event?.position ?? null;
        return false;
      }),
    );
    return last;
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

  private withCredentials<T extends object>(options: T): T & { credentials?: Credentials } {
    return this.credentials ? { ...options, credentials: this.credentials } : options;
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

function accepts(expected: ExpectedRevision, actual: bigint): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return actual === -1n;
  if (expected === 'stream_exists') return actual >= 0n;
  return expected === actual;
}
