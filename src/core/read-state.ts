import { deserialize, serialize } from 'node:v8';
import type { EventStore, Position, RecordedEvent } from '../eventstore/types';
import type { Decider, DomainEvent } from './decider';
import { DomainError } from './errors';

/** A stream folded, and where it stood when read. */
export interface StreamState<State> {
  state: State;
  /** The revision of the stream's last event (-1n: no stream yet). */
  revision: bigint;
  /** The global position of its last event; null while the stream has none. */
  position: Position | null;
}

/** What folds a stream: a decider, or anything with its initial state and evolve. */
export type Fold<State, Event extends DomainEvent> = Pick<Decider<State, never, Event>, 'initialState' | 'evolve'>;

/** A stream folded, with the last event folded (none while the stream has none). */
interface Folded<State> extends StreamState<State> {
  last: Pick<RecordedEvent, 'id' | 'hash'> | null;
}

/**
 * The one way to fold a stream. Every event must belong to the tenant: another tenant's stream
 * is none of the caller's business, and is refused as a missing aggregate is. Given `since` (a
 * state read before), only what was appended after it is read and folded onto it.
 */
export async function readState<State, Event extends DomainEvent>(
  store: EventStore,
  decider: Fold<State, Event>,
  stream: string,
  tenantId: string,
  since?: StreamState<State>,
): Promise<StreamState<State>> {
  const fromRevision = since === undefined || since.revision < 0n ? 'start' : since.revision + 1n;
  const recorded = await store.readStream(stream, { fromRevision });
  const { state, revision, position } = foldOnto(decider, stream, tenantId, { ...(since ?? initial(decider)), last: null }, recorded);
  return { state, revision, position };
}

function initial<State, Event extends DomainEvent>(decider: Fold<State, Event>): Folded<State> {
  return { state: decider.initialState(), revision: -1n, position: null, last: null };
}

function foldOnto<State, Event extends DomainEvent>(
  decider: Fold<State, Event>,
  stream: string,
  tenantId: string,
  from: Folded<State>,
  recorded: readonly RecordedEvent[],
): Folded<State> {
  let { state, revision, position, last } = from;
  for (const event of recorded) {
    if (event.metadata.tenantId !== tenantId) throw new DomainError('NOT_FOUND', `no ${stream}`);
    state = decider.evolve(state, asEvent<Event>(event));
    ({ revision, position } = event);
    last = { id: event.id, hash: event.hash };
  }
  return { state, revision, position, last };
}

interface Kept {
  fold: object;
  tenantId: string;
  /** The folded state's serialized form (v8's, as structuredClone copies): a copy, whose size is known. */
  state: Buffer;
  folded: Omit<Folded<unknown>, 'state'>;
}

/** Streams kept folded at most: the least recently read goes first. */
const KEPT_STREAMS = 1000;
/** And their states' serialized bytes at most: an organization's state grows with its repositories. */
const KEPT_BYTES = 64 * 1024 * 1024;

/**
 * Streams as this process last folded them, so that a command reads only what was appended since
 * instead of the whole stream each time (a plan's stream grows with every switch of a credential).
 * What was kept is used only when the stream's event at the kept revision is still the one folded
 * last (same id and hash, and the hash chains every event before it): otherwise, or for another
 * tenant or another fold, the stream is read whole, as readState does. States are kept serialized
 * and handed out as copies: what a caller does with its state cannot change the next one's. At
 * most KEPT_STREAMS streams and KEPT_BYTES of states are kept; a state larger than a quarter of
 * that is not kept at all.
 */
export class StreamStates {
  private readonly kept = new Map<string, Kept>();
  private bytes = 0;

  constructor(
    private readonly maxStreams = KEPT_STREAMS,
    private readonly maxBytes = KEPT_BYTES,
  ) {}

  /** Streams and bytes kept now. */
  get size(): { streams: number; bytes: number } {
    return { streams: this.kept.size, bytes: this.bytes };
  }

  async read<State, Event extends DomainEvent>(store: EventStore, decider: Fold<State, Event>, stream: string, tenantId: string): Promise<StreamState<State>> {
    const kept = this.kept.get(stream);
    let folded: Folded<State> | undefined;
    if (kept && kept.fold === decider && kept.tenantId === tenantId && kept.folded.last !== null) {
      const from = kept.folded;
      const [again, ...since] = await store.readStream(stream, { fromRevision: from.revision });
      if (again?.id === from.last!.id && again.hash === from.last!.hash && again.revision === from.revision) {
        folded = foldOnto(decider, stream, tenantId, { ...from, state: deserialize(kept.state) as State }, since);
      }
    }
    folded ??= foldOnto(decider, stream, tenantId, initial(decider), await store.readStream(stream));
    // Kept again at the end: the most recently read go last.
    this.forget(stream);
    if (folded.last !== null) {
      const { state, ...rest } = folded;
      const serialized = serialize(state);
      if (serialized.length <= this.maxBytes / 4) {
        this.kept.set(stream, { fold: decider, tenantId, state: serialized, folded: rest });
        this.bytes += serialized.length;
        while (this.kept.size > this.maxStreams || this.bytes > this.maxBytes) this.forget(this.kept.keys().next().value!);
      }
    }
    const { state, revision, position } = folded;
    return { state, revision, position };
  }

  private forget(stream: string): void {
    const kept = this.kept.get(stream);
    if (!kept) return;
    this.kept.delete(stream);
    this.bytes -= kept.state.length;
  }
}

// The store holds what the decider's own events wrote to this stream: the one place the type is taken on trust.
function asEvent<Event extends DomainEvent>(event: RecordedEvent): Event {
  return { type: event.type, data: event.data } as unknown as Event;
}
