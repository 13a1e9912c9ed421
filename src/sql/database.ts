import { BackplaneError } from '../errors';
import type { LockRequest } from './keyed-locks';

/**
 * The small slice of SQL that Backplane needs, served by a PostgreSQL server
 * (node-postgres) or by embedded PGlite, so that one set of SQL runs on both.
 */
export interface QueryOptions {
  /**
   * A name under which the server keeps the statement parsed and planned per connection, for
   * hot statements whose result columns never change. Ignored where it brings nothing (PGlite).
   */
  prepareAs?: string;
  /**
   * Kept prepared per connection, as prepareAs, under a name made from the statement's text: for
   * hot statements whose text is one of a few (never built from values) and whose result columns
   * never change (named, not `*`). The server parses each once per connection instead of at every
   * call, and plans it once too where it keeps the generic plan (after five runs, when that costs
   * no more than planning each call): tens of µs a statement, and a toggle runs about ten.
   * Ignored by PGlite.
   */
  prepared?: boolean;
}

export interface SqlExecutor {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<R[]>;
}

/**
 * A transaction's statements. `send` puts a statement on its way without waiting for its answer,
 * for statements whose rows nobody reads: where the connection pipelines (a PostgreSQL server),
 * statements sent one after the other, and the commit behind them, travel together instead of
 * taking a round trip each. A statement queried after them, and the commit, wait for every one
 * sent before and fail with the first failure among them, in the order they were sent (those
 * after it fail only because the transaction is aborted): a transaction commits all it sent or
 * nothing (a failure among them stays until the transaction ends: a savepoint does not undo it).
 * The promise `send` returns settles with the statement; nothing need await it.
 */
export interface SqlTransaction extends SqlExecutor {
  send(sql: string, params?: unknown[], options?: QueryOptions): Promise<void>;
}

export interface HeldLock {
  release(): Promise<void>;
  /**
   * Resolves if the lock is lost without release() (the connection holding it died, and with
   * it every lease of the process): the holder must stop the work the lease guards.
   */
  readonly lost: Promise<void>;
}

export interface SqlDatabase extends SqlExecutor {
  /** Runs fn in one transaction: committed when fn resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T>;
  /** Runs several statements without parameters (DDL). */
  exec(sql: string): Promise<void>;
  /**
   * Takes a named lock shared with every process on this database, or returns null when
   * another holder has it, in this process or another. The lock dies with its holder. All of a
   * process's leases share one connection: taking or holding one opens none of its own.
   */
  tryLock(name: string): Promise<HeldLock | null>;
  /**
   * Runs fn holding a named lock shared with every process on this database, waiting for the
   * lock at most timeoutMs (then LockTimeoutError). Meant for short critical sections.
   */
  withLock<T>(name: string, fn: () => Promise<T>, options: { timeoutMs: number }): Promise<T>;
  /**
   * withLock for several locks at once, each shared or exclusive, taken in the order given (give
   * them in one order everywhere) and all let go together; timeoutMs bounds the wait for all.
   */
  withLocks<T>(requests: readonly LockRequest[], fn: () => Promise<T>, options: { timeoutMs: number }): Promise<T>;
  /**
   * Wake-ups sent with pg_notify by any process on this database, where other processes can
   * write to it (a PostgreSQL server); absent where only this process can (PGlite).
   */
  readonly notifications?: Notifications;
  close(): Promise<void>;
}

/** Notifications heard on one connection per process, for every channel it listens to. */
export interface Notifications {
  /**
   * Calls the listener with each payload sent to the channel, once its sender has committed; and
   * with null when some may have been missed or are missed now (the connection dropped, or came
   * back): the listener then reads what it waits for, and polls while `listening` is false.
   */
  listen(channel: string, listener: (payload: string | null) => void): () => void;
  /** Whether the channels are listened to now. */
  readonly listening: boolean;
}

export class LockTimeoutError extends BackplaneError {
  constructor(name: string, timeoutMs: number) {
    super('LOCK_TIMEOUT', `lock ${name} was not free within ${timeoutMs} ms`);
  }
}
