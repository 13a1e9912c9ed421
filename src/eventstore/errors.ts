import { BackplaneError } from '../errors';
import type { ExpectedRevision } from './types';

/** The stream's revision is not the one the writer expected. Nothing was written. */
export class WrongExpectedVersionError extends BackplaneError {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    /** The stream's current revision, or 'no_stream'. */
    readonly actual: bigint | 'no_stream',
  ) {
    super('WRONG_EXPECTED_VERSION', `stream ${stream}: expected revision ${String(expected)}, actual ${String(actual)}`);
  }
}

/** A caller passed something the store refuses to record or read. Nothing was written. */
export class InvalidArgumentError extends BackplaneError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** An event id is already recorded somewhere that makes this append not a retry of that one. */
export class DuplicateEventIdError extends BackplaneError {
  constructor(
    readonly stream: string,
    readonly eventIds: string[],
  ) {
    super('DUPLICATE_EVENT_ID', `stream ${stream}: event ids already recorded, by an append this one does not repeat: ${eventIds.join(', ')}`);
  }
}

/**
 * Appending inside a caller's transaction: a transaction younger than the caller's wrote the
 * stream first, and writing now would put the stream out of order in the global log. The
 * caller's transaction is aborted; running it again as a new transaction succeeds.
 */
export class AppendOrderConflictError extends BackplaneError {
  constructor(readonly stream: string) {
    super('APPEND_ORDER_CONFLICT', `stream ${stream} was written by a newer transaction: run the transaction again`);
  }
}

/**
 * Appending inside a caller's transaction: it waited for a stream that another transaction holds,
 * while that one waits for a stream this one holds (two streams written in opposite orders).
 * PostgreSQL aborted the caller's transaction; running it again as a new transaction succeeds.
 */
export class AppendDeadlockError extends BackplaneError {
  constructor(readonly stream: string) {
    super('APPEND_DEADLOCK', `stream ${stream}: this transaction and another waited for each other's streams: run the transaction again`);
  }
}

/**
 * The event store's server cannot be reached (down, restarting, or the network between). Nothing
 * is known to have been written; the same call may be made again once it answers.
 */
export class EventStoreUnavailableError extends BackplaneError {
  constructor(detail: string) {
    super('EVENT_STORE_UNAVAILABLE', `the event store is unavailable (${detail}); try again shortly`);
  }
}

/** The stream was deleted in the store behind Backplane's back: its log can no longer be extended. */
export class StreamDeletedError extends BackplaneError {
  constructor(readonly stream: string) {
    super('STREAM_DELETED', `stream ${stream} was deleted in the event store and cannot be read or appended to`);
  }
}

/**
 * An append larger than the store takes in one write (EventStoreDB's MaxAppendSize, 1 MiB of
 * event data by default). Refused whole, before anything is written: an append is all or nothing,
 * so it is not split. Append fewer or smaller events, or raise the server's limit.
 */
export class AppendTooLargeError extends InvalidArgumentError {
  constructor(
    readonly stream: string,
    readonly maxAppendSize: number,
    /** The append's size as the store counts it, when the adapter measured it. */
    readonly size?: number,
  ) {
    super(
      `stream ${stream}: the append's event data ${size === undefined ? 'is' : `takes ${size} bytes,`} over the event store's maximum append size of ${maxAppendSize} bytes: append fewer or smaller events, or raise the server's MaxAppendSize`,
    );
  }
}

/**
 * The event store's server refused the user Backplane connects as. On EventStoreDB only members
 * of $admins may read $all unless its access control lists say otherwise.
 */
export class EventStoreAccessDeniedError extends BackplaneError {
  constructor(detail: string) {
    super('EVENT_STORE_ACCESS_DENIED', `the event store refused access (${detail})`);
  }
}
