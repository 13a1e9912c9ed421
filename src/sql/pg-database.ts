import { Pool, type PoolClient, type PoolConfig } from 'pg';
import { LeaseSession } from './lease-session';
import { NotificationSession } from './notification-session';
import { LockTimeoutError, type HeldLock, type QueryOptions, type SqlDatabase, type SqlTransaction } from './database';
import { PgTransaction, statement } from './pg-transaction';
import type { LockRequest } from './keyed-locks';

export interface PgDatabaseOptions {
  connectionString: string;
  /** Schema for every table Backplane creates (default: the connection's search_path). */
  schema?: string;
  maxConnections?: number;
  /** How long opening a connection, or waiting for one of the pool's, may take (ms; default 10 s). */
  connectionTimeoutMs?: number;
}

/** withLock's locks held at once by one process; more callers wait for a connection, not for the main pool. */
const LOCK_CONNECTIONS = 8;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** lock_timeout and deadlock_detected. */
const LOCK_NOT_NOW = new Set(['55P03', '40P01']);

/** The lock_timeout each lock connection was last set to. */
const lockTimeouts = new WeakMap<PoolClient, string>();

/** A PostgreSQL server through a node-postgres pool. */
export class PgDatabase implements SqlDatabase {
  private readonly config: PoolConfig;
  private readonly pool: Pool;
  /**
   * Connections that hold withLock's locks, apart from the pool the work inside the lock queries
   * through: holders waiting on the main pool for their own work would otherwise starve it.
   */
  private lockPool: Pool | undefined;
  private readonly leases: LeaseSession;
  /** Other processes write to the same server: their appends and checkpoints are heard of here. */
  readonly notifications: NotificationSession;

  private constructor(config: PoolConfig) {
    this.config = config;
    // Statements queued on one connection go without waiting for the answers before them (see
    // PgTransaction); statements awaited one by one go as they always would.
    this.pool = new Pool({ ...config, pipeline: true });
    this.leases = new LeaseSession(config);
    this.notifications = new NotificationSession(config);
    // An idle client that loses its server is dropped by the pool; without a listener the error would crash the process.
    this.pool.on('error', () => undefined);
  }

  static async connect(options: PgDatabaseOptions): Promise<PgDatabase> {
    const config: PoolConfig = {
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      keepAlive: true,
      // A server that accepts no connections must not hold a caller (or a stop) forever.
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    };
    if (options.schema !== undefined) {
      if (!SCHEMA_NAME.test(options.schema)) throw new Error(`invalid schema name ${JSON.stringify(options.schema)}`);
      config.options = `-c search_path=${options.schema}`;
    }
    const db = new PgDatabase(config);
    try {
      if (options.schema === undefined) await db.pool.query('SELECT 1');
      else {
        // IF NOT EXISTS alone still fails when two processes create the schema at once.
        const schema = options.schema;
        await db.transaction(async (tx) => {
          await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['backplane-migrate']);
          await tx.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        });
      }
    } catch (error) {
      await db.pool.end();
      throw error;
    }
    return db;
  }

  async query<R>(sql: string, params?: unknown[], options?: QueryOptions): Promise<R[]> {
    const result = await this.pool.query(statement(sql, params, options));
    return result.rows as R[];
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    // A checked-out client has no listener of the pool's; without one, a connection lost
    // mid-transaction would be an uncaught 'error' event and end the process.
    const onError = () => {
      broken = true;
    };
    client.on('error', onError);
    const transaction = new PgTransaction(client);
    try {
      const result = await fn(transaction.executor);
      await transaction.commit();
      return result;
    } catch (error) {
      await transaction.rollback().catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.off('error', onError);
      client.release(broken || transaction.unsentFailure);
    }
  }

  withLock<T>(name: string, fn: () => Promise<T>, options: { timeoutMs: number }): Promise<T> {
    return this.withLocks([{ name }], fn, options);
  }

  async withLocks<T>(requests: readonly LockRequest[], fn: () => Promise<T>, options: { timeoutMs: number }): Promise<T> {
    const names = requests.map((request) => request.name).join(', ');
    const deadline = Date.now() + options.timeoutMs;
    if (!this.lockPool) {
      this.lockPool = new Pool({ ...this.config, max: LOCK_CONNECTIONS });
      this.lockPool.on('error', () => undefined);
    }
    // Waiting for a free lock connection counts against the same deadline as waiting for the lock:
    // each caller's own. The pool's connection timeout, one for all callers, ends a wait sooner
    // (for a connection opened, or let go by another holder): the caller then waits again, until
    // its deadline. A connection that comes after the deadline goes back unused.
    let client: PoolClient | undefined;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LockTimeoutError(names, options.timeoutMs)), Math.max(0, deadline - Date.now()));
    });
    try {
      while (client === undefined) {
        const connecting = this.lockPool.connect();
        try {
          client = await Promise.race([connecting, late]);
        } catch (error) {
          connecting.then(
            (unused) => unused.release(),
            () => undefined,
          );
          const timedOut = error instanceof LockTimeoutError || /timeout/i.test(String((error as Error).message));
          if (!timedOut) throw error;
          if (error instanceof LockTimeoutError || Date.now() >= deadline) throw new LockTimeoutError(names, options.timeoutMs);
        }
      }
    } finally {
      clearTimeout(timer);
    }
    // A connection whose lock state is unknown must not go back to the pool.
    let clean = false;
    // A connection that dies while fn runs has let the lock go; without a listener its error would end the process.
    const lost = () => (clean = false);
    client.on('error', lost);
    try {
      // Session locks on a pooled connection: no transaction stays open while fn runs. The lock
      // connections serve only these locks, so each keeps the wait it was last given, and holds
      // nothing but this call's locks: taking them all and letting them all go are then the only
      // round trips. lock_timeout bounds each lock's wait: the time left after the wait for a
      // connection, shared among the locks, in steps of 250 ms so that a connection's setting
      // serves the next caller too.
      const left = deadline - Date.now();
      if (left <= 0) {
        clean = true;
        throw new LockTimeoutError(names, options.timeoutMs);
      }
      const lockTimeout = `${Math.ceil(left / requests.length / 250) * 250}ms`;
      if (lockTimeouts.get(client) !== lockTimeout) {
        lockTimeouts.delete(client);
        await client.query("SELECT set_config('lock_timeout', $1, false)", [lockTimeout]);
        lockTimeouts.set(client, lockTimeout);
      }
      try {
        // A select list is computed in its order: the locks are taken in the order given.
        const take = requests
          .map((request, index) => `${request.shared ? 'pg_advisory_lock_shared' : 'pg_advisory_lock'}(hashtext(current_schema()), hashtext($${index + 1}))`)
          .join(', ');
        await client.query(
          `SELECT ${take}`,
          requests.map((request) => request.name),
        );
      } catch (error) {
        // A lock's wait ran out, or two holders' locks met in opposite orders
        // (names are taken in one order, but two names can share a hash): either way, not now.
        if (!LOCK_NOT_NOW.has((error as { code?: string }).code ?? '')) throw error;
        // Those taken before the one that failed are held still: a session's locks outlive a failed statement.
        await client.query('SELECT pg_advisory_unlock_all()');
        clean = true;
        throw new LockTimeoutError(names, options.timeoutMs);
      }
      try {
        return await fn();
      } finally {
        await client.query('SELECT pg_advisory_unlock_all()');
        clean = true;
      }
    } finally {
      // A connection going back to the pool drops the listener; one being destroyed keeps it, for
      // an error that arrives while it closes.
      if (clean) client.off('error', lost);
      client.release(clean ? undefined : new Error('lock connection in an unknown state'));
    }
  }

  /**
   * A session-level advisory lock, on the one connection that holds all of this process's leases
   * (LeaseSession), so that it dies with this process. The key includes the schema, so
   * deployments in separate schemas of one database do not meet.
   */
  tryLock(name: string): Promise<HeldLock | null> {
    return this.leases.tryLock(name);
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.end(), this.lockPool?.end(), this.leases.close(), this.notifications.close()]);
  }
}
