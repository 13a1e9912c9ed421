import { eventTypeFilter, streamNameFilter, type AllStreamSubscription, type Filter, type Position } from '@eventstore/db-client';
import type { EventFilter } from '../types';

/** The server sends a checkpoint after this many times its 32-record search window: every 32 records it looks at. */
export const CHECKPOINT_INTERVAL = 1;

/** A string matched literally by a .NET (and JavaScript) regular expression. */
function literal(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, (character) => `\\${character}`);
}

/**
 * The part of the port's filter EventStoreDB can apply itself, so that what the adapter would throw
 * away is not sent. The server takes one filter, on stream names or on event types: the stream
 * prefixes when there are some (the types are then checked here), else the event types exactly,
 * else everything but system event types (`$`-prefixed: `$streamDeleted`, `$metadata` and the
 * records of system streams). What passes is still checked by the adapter, which drops the rest:
 * the server's filter only saves sending it.
 */
export function serverFilter(filter: EventFilter | undefined, onCheckpoint: (position: Position, buffered: number) => void): Filter {
  const checkpoint = {
    checkpointInterval: CHECKPOINT_INTERVAL,
    // Called before the records after the checkpoint are buffered: those buffered came before it.
    checkpointReached: (subscription: AllStreamSubscription, position: Position) => onCheckpoint(position, subscription.readableLength),
  };
  if (filter?.streamPrefixes?.length) return streamNameFilter({ prefixes: [...filter.streamPrefixes], ...checkpoint });
  if (filter?.eventTypes?.length) return eventTypeFilter({ regex: `^(?:${filter.eventTypes.map(literal).join('|')})$`, ...checkpoint });
  return eventTypeFilter({ regex: '^[^$]', ...checkpoint });
}
