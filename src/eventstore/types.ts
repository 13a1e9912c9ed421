/**
 * The event-store port. Its semantics follow EventStoreDB so that every adapter
 * (PostgreSQL, embedded PGlite, EventStoreDB) can stand behind it unchanged.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** 'any' skips the check; 'no_stream' and 'stream_exists' check existence; a bigint is the revision of the stream's last event. */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

/** An opaque, totally ordered place in the global log. Compare with `EventStore.comparePositions`. */
export type Position = string;
export type ReadAllFrom = 'start' | 'end' | Position;
export type ReadStreamFrom = 'start' | 'end' | bigint;
export type Direction = 'forwards' | 'backwards';

export interface EventData {
  /** A uuid; generated when absent. Re-sending the same ids makes an append safe to retry. */
  id?: string;
  type: string;
  data: JsonValue;
  metadata?: JsonObject;
}

export interface RecordedEvent {
  id: string;
  type: string;
  data: JsonValue;
  metadata: JsonObject;
  stream: string;
  /** The event's revision in its stream, from 0. */
  revision: bigint;
  position: Position;
  recordedAt: Date;
  /** SHA-256 (hex) over the event's canonical content chained to the previous event of its stream. */
  hash: string;
}

export interface AppendOptions {
  expectedRevision?: ExpectedRevision;
  /**
   * The caller drew the events' ids for this append alone and has sent them nowhere before, so a
   * success can only be this batch written: a store that recognises retries by ids alone need not
   * read back what it stored (EventStoreDB). Ids re-sent to retry an append must not say so.
   */
  freshIds?: boolean;
}

export interface AppendResult {
  /** The revision of the last event now in the stream: pass it as the next expected revision. */
  nextExpectedRevision: bigint;
  /** The global position of the last event written. */
  position: Position;
  /** The read model this append applied its events to in its own transaction (kept inline), where one did. */
  inlineReadModel?: string;
}

export interface ReadStreamOptions {
  fromRevision?: ReadStreamFrom;
  direction?: Direction;
  maxCount?: number;
}

export interface EventFilter {
  /** Keep only events of these types. */
  eventTypes?: string[];
  /** Keep only events whose stream name starts with one of these prefixes. */
  streamPrefixes?: string[];
}

export interface ReadAllOptions {
  /** Exclusive: reading forwards from a position starts after it, backwards before it. */
  fromPosition?: ReadAllFrom;
  direction?: Direction;
  maxCount?: number;
  filter?: EventFilter;
}

export interface SubscriptionBatch {
  /** The events of this batch that pass the filter, in global order (may be empty). */
  events: RecordedEvent[];
  /** How far the subscription has read, filtered-out events included: a safe checkpoint. */
  position: Position;
  /** True when the batch reached the end of the log as it stood when it was read. */
  caughtUp: boolean;
}

export interface SubscribeToAllOptions {
  /** Exclusive start: 'start' replays all history, 'end' delivers only what comes next. */
  fromPosition?: ReadAllFrom;
  filter?: EventFilter;
  /** Largest number of events read at once (default 500). */
  maxBatch?: number;
  /**
   * Once live, how long to wait after news of an append before reading (ms; default 0), so that
   * what follows it comes in the same batch: for a reader nobody waits on closely, whose batches
   * cost more than their events. Where the store reads pages (PostgreSQL and PGlite).
   */
  gatherMs?: number;
}

export type SubscriptionHandler = (batch: SubscriptionBatch) => Promise<void> | void;

export interface Subscription {
  /** Stops after the batch in hand; resolves once no more batches will be delivered. */
  stop(): Promise<void>;
  /** Settles when the subscription ends: resolves after stop(), rejects when reading or the handler fails. */
  readonly done: Promise<void>;
}

export interface StreamHead {
  revision: bigint;
  hash: string;
}

export interface EventStore {
  appendToStream(stream: string, events: EventData[], options?: AppendOptions): Promise<AppendResult>;
  /** A stream that does not exist reads as empty. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** A catch-up subscription: replays history in global order, then stays live until stopped. */
  subscribeToAll(options: SubscribeToAllOptions, handler: SubscriptionHandler): Subscription;
  /** The position of the last event of the log, or null when it is empty. */
  headPosition(): Promise<Position | null>;
  /**
   * The position of the last event committed, where that can lie past headPosition() (a SQL store:
   * readers stop before a transaction still open, which may yet add events ahead of them). What a
   * wait to read one's own writes waits for. Absent: headPosition() is that position.
   */
  lastCommittedPosition?(): Promise<Position | null>;
  /**
   * True when readers are known to read up to the position already, without a look at the store
   * (a SQL store: its own append committed it with no older transaction open). False says nothing.
   */
  knownReadable?(position: Position): boolean;
  /** Negative, zero or positive as a is before, at or after b. */
  comparePositions(a: Position, b: Position): number;
  /** Number of events in the log, where the store can count them (for progress reports; may scan). */
  countEvents?(): Promise<number>;
  /**
   * Each stream's last revision and hash as the store keeps them apart from the events, where it
   * does (PostgreSQL and PGlite): lets verifyLog find a removed tail.
   */
  streamHeads?(): Promise<Map<string, StreamHead>>;
  /**
   * True where the events are rows of the read models' own database (PostgreSQL and PGlite): a
   * query there may join the read models to the events as recorded instead of reading each back.
   */
  readonly sharesReadModelDatabase?: boolean;
  close(): Promise<void>;
}
