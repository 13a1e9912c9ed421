import {
  AccessDeniedError,
  CancelledError,
  DeadlineExceededError,
  StreamDeletedError as EsdbStreamDeleted,
  MaxAppendSizeExceededError,
  NotLeaderError,
  TimeoutError,
  UnavailableError,
} from '@eventstore/db-client';
import { BackplaneError } from '../../errors';
import { AppendTooLargeError, EventStoreAccessDeniedError, EventStoreUnavailableError, StreamDeletedError } from '../errors';

/**
 * The port's error for what the client library threw. A server that cannot be reached becomes
 * EVENT_STORE_UNAVAILABLE, whose message names the hosts only: never the connection string,
 * which may hold a password. Other errors pass through as they are.
 */
export function translateClientError(error: unknown, hosts: string, stream?: string): unknown {
  if (error instanceof BackplaneError) return error;
  if (error instanceof UnavailableError || error instanceof DeadlineExceededError || error instanceof TimeoutError || error instanceof CancelledError) {
    return new EventStoreUnavailableError(`EventStoreDB at ${hosts}: ${error.type}`);
  }
  // Written to a follower: the client turns to the leader it names for the next call.
  if (error instanceof NotLeaderError) {
    return new EventStoreUnavailableError(`EventStoreDB at ${hosts}: the node answering is not the cluster's leader, the client is moving to the leader`);
  }
  if (error instanceof AccessDeniedError) {
    return new EventStoreAccessDeniedError(
      `EventStoreDB at ${hosts} denied the user in BACKPLANE_ESDB_URL: Backplane reads $all, which only members of $admins may read unless the server's access control lists grant it, and over tls=false the client sends no credentials at all`,
    );
  }
  // A server whose limit is below the one the adapter checks before writing.
  if (error instanceof MaxAppendSizeExceededError) return new AppendTooLargeError(stream ?? '(unknown)', error.maxAppendSize);
  if (error instanceof EsdbStreamDeleted) return new StreamDeletedError(stream ?? String(error.streamName));
  return error;
}
