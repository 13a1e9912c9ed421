/**
 * Part of a test double of EventStoreDB's gRPC Streams service: the log it keeps in memory, with
 * EventStoreDB 23.10's semantics as its server code has them. It is not EventStoreDB and stores
 * nothing on disk.
 *
 * - Each stream numbers its events from revision 0; an append names the revision it expects
 *   (any, no_stream, stream_exists or an exact revision) and is refused without writing otherwise,
 *   with EventStoreDB's idempotency rules for appends sent again (commit-check.ts).
 * - $all orders records by (commit, prepare). An append over gRPC writes each event as a record
 *   committed by itself, so each event's commit position is its prepare position, and the append
 *   answers with its last event's position.
 * - A soft delete writes `$tb` = 2^63-1 to the stream's metadata stream `$$<stream>`: the stream
 *   reads as not found, its events stay in $all, and its last revision is kept. Writing to it again
 *   continues the revisions and writes `$tb` = the first new revision, hiding the older events.
 * - A tombstone writes a `$streamDeleted` record into the stream at revision 2^63-1, which $all
 *   shows like any event; reading the stream or writing to it then fails with stream-deleted.
 * - Records of system streams (`$`-prefixed) and system event types are in $all with the rest.
 */
import { checkCommit, type CommittedId } from './commit-check';

export type Expected = { kind: 'any' } | { kind: 'no_stream' } | { kind: 'stream_exists' } | { kind: 'revision'; revision: bigint };

export interface ProposedEvent {
  id: string;
  type: string;
  contentType: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
}

export interface StoredEvent extends ProposedEvent {
  stream: string;
  revision: bigint;
  commit: bigint;
  prepare: bigint;
  /** .NET ticks (100 ns) since the Unix epoch, as EventStoreDB sends `created`. */
  created: bigint;
}

export type AppendOutcome =
  | { kind: 'success'; revision: bigint; commit: bigint; prepare: bigint }
  | { kind: 'wrong_expected_version'; current: bigint | null; expected: Expected };

export class StreamDeleted extends Error {
  constructor(readonly stream: string) {
    super(`stream ${stream} is deleted`);
  }
}

interface StreamState {
  events: StoredEvent[];
  /** Events below this revision were soft-deleted. */
  truncateBefore: bigint;
  /** Soft-deleted and not written since: reads as not found. */
  softDeleted: boolean;
  tombstoned: boolean;
}

/** EventStoreDB's EventNumber.DeletedStream: the revision of a tombstone and the `$tb` of a soft delete. */
export const DELETED_STREAM = 2n ** 63n - 1n;
/** Where the first record of a log goes: EventStoreDB's log opens with an epoch record, never an event. */
const FIRST_POSITION = 1000n;
/** Size given to every record's header, so that positions advance as byte offsets do. */
const RECORD_OVERHEAD = 80n;

/**
 * Where a record ends, and the next one starts: its post-position, as EventStoreDB's reads of
 * $all backwards compare it.
 */
export function recordEnd(event: Pick<StoredEvent, 'prepare' | 'type' | 'data' | 'customMetadata'>): bigint {
  return event.prepare + RECORD_OVERHEAD + BigInt(event.type.length + event.data.length + event.customMetadata.length);
}

/** What reads and subscriptions see of the log: all of it on the leader, less on a lagging follower. */
export interface ReadView {
  /** $all as far as this node has it, in (commit, prepare) order. */
  readonly all: StoredEvent[];
  /** The stream's events as a reader sees them; null when the stream is not found. */
  readStream(stream: string): StoredEvent[] | null;
  /** Calls the listener after every write; returns the unsubscribe. */
  onWrite(listener: () => void): () => void;
}

/**
 * A follower's view of the leader's log that lags it by a number of records, as a follower's does
 * while replication catches up: its reads do not show the leader's last writes yet.
 */
export class LaggingView implements ReadView {
  constructor(
    private readonly log: MemoryLog,
    private readonly lag: number,
  ) {}

  get all(): StoredEvent[] {
    return this.log.all.slice(0, Math.max(0, this.log.all.length - this.lag));
  }

  readStream(stream: string): StoredEvent[] | null {
    const all = this.all;
    const last = all[all.length - 1];
    const visible = (this.log.readStream(stream) ?? []).filter((event) => last !== undefined && event.commit <= last.commit);
    return visible.length > 0 ? visible : null;
  }

  onWrite(listener: () => void): () => void {
    return this.log.onWrite(listener);
  }
}

export class MemoryLog implements ReadView {
  /** $all, in (commit, prepare) order: appends are applied one at a time. */
  readonly all: StoredEvent[] = [];
  private readonly streams = new Map<string, StreamState>();
  /** EventStoreDB's committed-events cache: where each id was last committed. */
  private readonly committed = new Map<string, CommittedId>();
  private nextPosition = FIRST_POSITION;
  private readonly listeners = new Set<() => void>();

  /** The stream's last revision, soft-deleted events included; -1 when it has none. */
  private lastRevision(state: StreamState | undefined): bigint {
    const last = state?.events.at(-1);
    return last ? last.revision : -1n;
  }

  append(stream: string, expected: Expected, proposed: ProposedEvent[]): AppendOutcome {
    const state = this.streams.get(stream);
    const current = this.lastRevision(state);
    const decision = checkCommit(
      stream,
      expected,
      proposed.map((event) => event.id),
      {
        lastRevision: current,
        softDeleted: state?.softDeleted ?? false,
        tombstoned: state?.tombstoned ?? false,
        hasMetadata: (this.streams.get(`$$${stream}`)?.events.length ?? 0) > 0,
        committed: (id) => this.committed.get(id),
        idAt: (revision) => state?.events.find((event) => event.revision === revision)?.id,
      },
    );
    switch (decision.kind) {
      case 'deleted':
        throw new StreamDeleted(stream);
      case 'wrong_expected_version':
        return { kind: 'wrong_expected_version', current: decision.current < 0n ? null : decision.current, expected };
      case 'idempotent': {
        // EventStoreDB answers with the last event's own position, commit and prepare alike.
        const last = state!.events.find((event) => event.revision === decision.last)!;
        return { kind: 'success', revision: decision.last, commit: last.prepare, prepare: last.prepare };
      }
      case 'ok': {
        if (proposed.length === 0) return { kind: 'success', revision: current, commit: -1n, prepare: -1n };
        const wasSoftDeleted = state?.softDeleted ?? false;
        const written = this.write(stream, proposed);
        if (wasSoftDeleted) this.undelete(stream, current + 1n);
        const last = written[written.length - 1];
        return { kind: 'success', revision: last.revision, commit: last.commit, prepare: last.prepare };
      }
    }
  }

  /** Each event its own committed record: commit position = prepare position. */
  private write(stream: string, proposed: ProposedEvent[], revisionOf?: (i: number) => bigint): StoredEvent[] {
    const state = this.stateOf(stream);
    const first = this.lastRevision(state) + 1n;
    const created = BigInt(Date.now()) * 10_000n;
    const written = proposed.map((event, i) => {
      const position = this.nextPosition;
      this.nextPosition = recordEnd({ ...event, prepare: position });
      return { ...event, stream, revision: revisionOf?.(i) ?? first + BigInt(i), commit: position, prepare: position, created };
    });
    state.events.push(...written);
    state.softDeleted = false;
    for (const event of written) this.committed.set(event.id, { stream, revision: event.revision });
    this.all.push(...written);
    this.listeners.forEach((listener) => {
      listener();
    });
    return written;
  }

  private stateOf(stream: string): StreamState {
    const state = this.streams.get(stream) ?? { events: [], truncateBefore: 0n, softDeleted: false, tombstoned: false };
    this.streams.set(stream, state);
    return state;
  }

  /** Written again after a soft delete: the older events stay hidden, the new ones are read. */
  private undelete(stream: string, from: bigint): void {
    this.stateOf(stream).truncateBefore = from;
    this.writeMetadata(stream, from);
  }

  private writeMetadata(stream: string, truncateBefore: bigint): StoredEvent {
    // JSON has no 64-bit integers: EventStoreDB writes the number's digits as they are.
    const data = new TextEncoder().encode(`{"$tb":${truncateBefore}}`);
    const [written] = this.write(`$$${stream}`, [
      { id: crypto.randomUUID(), type: '$metadata', contentType: 'application/json', data, customMetadata: new Uint8Array() },
    ]);
    return written;
  }

  /** The stream's events as a reader sees them; null when the stream is not found. */
  readStream(stream: string): StoredEvent[] | null {
    const state = this.streams.get(stream);
    if (state?.tombstoned) throw new StreamDeleted(stream);
    if (!state || state.softDeleted) return null;
    const visible = state.events.filter((event) => event.revision >= state.truncateBefore);
    return visible.length > 0 ? visible : null;
  }

  softDelete(stream: string, expected: Expected): AppendOutcome {
    const state = this.streams.get(stream);
    if (state?.tombstoned) throw new StreamDeleted(stream);
    const last = this.lastRevision(state);
    const current = state?.softDeleted || last < 0n ? null : last;
    const accepted =
      expected.kind === 'any' || (expected.kind === 'revision' && current === expected.revision) || (expected.kind === 'stream_exists' && current !== null);
    if (!accepted || !state || current === null) return { kind: 'wrong_expected_version', current, expected };
    state.softDeleted = true;
    state.truncateBefore = DELETED_STREAM;
    const written = this.writeMetadata(stream, DELETED_STREAM);
    return { kind: 'success', revision: written.revision, commit: written.commit, prepare: written.prepare };
  }

  /** Deletes the stream for good, with the `$streamDeleted` record EventStoreDB writes into it. */
  tombstone(stream: string): StoredEvent {
    const state = this.stateOf(stream);
    if (state.tombstoned) throw new StreamDeleted(stream);
    const [record] = this.write(
      stream,
      [{ id: crypto.randomUUID(), type: '$streamDeleted', contentType: 'application/octet-stream', data: new Uint8Array(), customMetadata: new Uint8Array() }],
      () => DELETED_STREAM,
    );
    state.tombstoned = true;
    return record;
  }

  /** Calls the listener after every write; returns the unsubscribe. */
  onWrite(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
