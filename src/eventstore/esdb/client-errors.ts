import { CancelledError, DeadlineExceededError, StreamDeletedError as EsdbStreamDeleted, TimeoutError, UnavailableError } from '@eventstore/db-client';
import { BackplaneError } from '../../errors';
import { EventStoreUnavailableError, StreamDeletedError } from '../errors';

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
  if (error instanceof EsdbStreamDeleted) return new StreamDeletedError(stream ?? String(error.streamName));
  return error;
}
