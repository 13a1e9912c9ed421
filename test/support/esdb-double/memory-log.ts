/**
 * Part of a test double of EventStoreDB's gRPC Streams service: the log it keeps in memory, with
 * EventStoreDB's semantics as documented. It is not EventStoreDB and stores nothing on disk.
 *
 * - Each stream numbers its events from revision 0; an append names the revision it expects
 *   (any, no_stream, stream_exists or an exact revision) and is refused without writing otherwise.
 * - An append repeated with the same event ids at the same expected revision is idempotent.
 * - $all orders events by (commit, prepare): an append writes one prepare record per event and
 *   then a commit record, so the events of one append share the commit position, after their prepares.
 * - A soft delete hides a stream's events from reads of the stream (they stay in $all) by writing
 *   a truncate-before to its metadata stream `$$<stream>`; writing to it again continues the revisions.
 * - A tombstone deletes a stream for good: reading it or writing to it fails with stream-deleted.
 */

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
  deleted: boolean;
  tombstoned: boolean;
}

/** Where the first record of a log goes: EventStoreDB's log opens with an epoch record, never an event. */
const FIRST_POSITION = 1000n;
/** Size given to every record's header, so that positions advance as byte offsets do. */
const RECORD_OVERHEAD = 80n;

export class MemoryLog {
  /** $all, in (commit, prepare) order: appends are applied one at a time. */
  readonly all: StoredEvent[] = [];
  private readonly streams = new Map<string, StreamState>();
  private nextPosition = FIRST_POSITION;
  private readonly listeners = new Set<() => void>();

  /** The last revision a writer sees: null when there is no stream (never written, or soft-deleted). */
  private current(state: StreamState | undefined): bigint | null {
    if (!state || state.deleted || state.events.length === 0) return null;
    return state.events[state.events.length - 1].revision;
  }

  append(stream: string, expected: Expected, proposed: ProposedEvent[]): AppendOutcome {
    const state = this.streams.get(stream);
    if (state?.tombstoned) throw new StreamDeleted(stream);
    const current = this.current(state);
    const repeated = this.repeatedAppend(state, expected, proposed);
    if (repeated) return repeated;
    const accepted =
      expected.kind === 'any' ||
      (expected.kind === 'no_stream' && current === null) ||
      (expected.kind === 'stream_exists' && current !== null) ||
      (expected.kind === 'revision' && current === expected.revision);
    if (!accepted) return { kind: 'wrong_expected_version', current, expected };
    return this.write(stream, proposed);
  }

  /** The same ids at the same expected place: EventStoreDB answers success and writes nothing. */
  private repeatedAppend(state: StreamState | undefined, expected: Expected, proposed: ProposedEvent[]): AppendOutcome | null {
    if (!state || (expected.kind !== 'revision' && expected.kind !== 'no_stream')) return null;
    const first = expected.kind === 'revision' ? expected.revision + 1n : 0n;
    const found = state.events.filter((event) => event.revision >= first).slice(0, proposed.length);
    if (found.length !== proposed.length || found.some((event, i) => event.id !== proposed[i].id)) return null;
    const last = found[found.length - 1];
    return { kind: 'success', revision: last.revision, commit: last.commit, prepare: found[0].prepare };
  }

  private write(stream: string, proposed: ProposedEvent[]): AppendOutcome {
    const state = this.streams.get(stream) ?? { events: [], truncateBefore: 0n, deleted: false, tombstoned: false };
    this.streams.set(stream, state);
    const last = state.events[state.events.length - 1];
    let revision = last ? last.revision + 1n : 0n;
    const prepares = proposed.map((event) => {
      const prepare = this.nextPosition;
      this.nextPosition += RECORD_OVERHEAD + BigInt(event.data.length + event.customMetadata.length);
      return prepare;
    });
    const commit = this.nextPosition;
    this.nextPosition += RECORD_OVERHEAD;
    const created = BigInt(Date.now()) * 10_000n;
    const written = proposed.map((event, i) => ({ ...event, stream, revision: revision++, commit, prepare: prepares[i], created }));
    state.events.push(...written);
    state.deleted = false;
    this.all.push(...written);
    this.listeners.forEach((listener) => {
      listener();
    });
    return { kind: 'success', revision: revision - 1n, commit, prepare: prepares[0] };
  }

  /** The stream's events as a reader sees them; null when the stream is not found. */
  readStream(stream: string): StoredEvent[] | null {
    const state = this.streams.get(stream);
    if (state?.tombstoned) throw new StreamDeleted(stream);
    if (!state || state.deleted) return null;
    const visible = state.events.filter((event) => event.revision >= state.truncateBefore);
    return visible.length > 0 ? visible : null;
  }

  softDelete(stream: string, expected: Expected): AppendOutcome {
    const state = this.streams.get(stream);
    if (state?.tombstoned) throw new StreamDeleted(stream);
    const current = this.current(state);
    const accepted =
      expected.kind === 'any' || (expected.kind === 'revision' && current === expected.revision) || (expected.kind === 'stream_exists' && current !== null);
    if (!accepted || !state || current === null) return { kind: 'wrong_expected_version', current, expected };
    state.truncateBefore = current + 1n;
    state.deleted = true;
    const data = new TextEncoder().encode(JSON.stringify({ $tb: Number(state.truncateBefore) }));
    return this.write(`$$${stream}`, [{ id: crypto.randomUUID(), type: '$metadata', contentType: 'application/json', data, customMetadata: new Uint8Array() }]);
  }

  tombstone(stream: string): void {
    const state = this.streams.get(stream) ?? { events: [], truncateBefore: 0n, deleted: false, tombstoned: false };
    state.tombstoned = true;
    this.streams.set(stream, state);
  }

  /** Calls the listener after every write; returns the unsubscribe. */
  onWrite(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
