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
  let { state, revision, position } = since ?? { state: decider.initialState(), revision: -1n, position: null };
  for (const event of recorded) {
    if (event.metadata.tenantId !== tenantId) throw new DomainError('NOT_FOUND', `no ${stream}`);
    state = decider.evolve(state, asEvent<Event>(event));
    ({ revision, position } = event);
  }
  return { state, revision, position };
}

// The store holds what the decider's own events wrote to this stream: the one place the type is taken on trust.
function asEvent<Event extends DomainEvent>(event: RecordedEvent): Event {
  return { type: event.type, data: event.data } as unknown as Event;
}
