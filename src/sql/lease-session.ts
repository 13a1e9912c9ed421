import { Client, type ClientConfig, type QueryResult, type QueryResultRow } from 'pg';
import type { HeldLock } from './database';

interface Session {
  client: Client;
  /** Settles once the connection is up (or failed to come up). */
  ready: Promise<void>;
  dead: boolean;
  /** The leases taken on this session: told when it dies. */
  leases: Map<string, () => void>;
  heartbeat: NodeJS.Timeout | undefined;
  /** Settles once the last query asked of the session is answered (or failed). */
  queue: Promise<unknown>;
}

export interface LeaseSessionTiming {
  /** How often a session holding leases is asked whether it is alive (ms). */
  heartbeatMs: number;
  /** A lease query (or heartbeat) unanswered this long means the session is dropped (ms). */
  queryTimeoutMs: number;
}

/**
 * A link that dies silently (a failover, a dropped route) sends no error: without these, holders
 * would learn of it only from the OS keepalive (about two hours) while another process already
 * holds their leases, and one hung query would hold every tryLock and release behind it.
 */
const DEFAULT_TIMING: LeaseSessionTiming = { heartbeatMs: 15_000, queryTimeoutMs: 10_000 };
const KEEPALIVE_DELAY_MS = 10_000;

/**
 * Every tryLock lease of a process, held as session-level advisory locks on ONE dedicated
 * connection: a process holding a hundred leases uses one connection, not a hundred, and a look
 * for a free lease opens none. Advisory locks are re-entrant per session, so exclusivity inside
 * the process comes from the map of names held here: a name held is refused here before the
 * server is asked. When the connection drops, the server has let go of every lease on it: each
 * holder's `lost` resolves, and the next tryLock opens a new session. While leases are held the
 * session is asked `SELECT 1` every heartbeat; a query unanswered in time drops the session (a
 * lock request that timed out may yet have been granted on the server, so the session cannot be
 * trusted), which lets the server free its locks and tells every holder.
 */
export class LeaseSession {
  private session: Session | undefined;
  /** Names held or being asked for in this process. */
  private readonly names = new Set<string>();
  private closed = false;

  constructor(
    private readonly config: ClientConfig,
    private readonly timing: LeaseSessionTiming = DEFAULT_TIMING,
  ) {}

  async tryLock(name: string): Promise<HeldLock | null> {
    if (this.closed) throw new Error('the lease session is closed');
    if (this.names.has(name)) return null;
    this.names.add(name);
    let session: Session | undefined;
    let granted: boolean;
    try {
      session = await this.current();
      const [row] = (await this.query<{ ok: boolean }>(session, 'SELECT pg_try_advisory_lock(hashtext(current_schema()), hashtext($1)) AS ok', [name])).rows;
      granted = row.ok && !session.dead;
    } catch (error) {
      this.names.delete(name);
      // The request may have reached the server and been granted: only ending the session frees it.
      if (session) this.drop(session);
      throw error;
    }
    if (!granted) {
      this.names.delete(name);
      return null;
    }
    return this.lease(session, name);
  }

  /** Ends the session: every lease still held is let go by the server, and its holder told. */
  async close(): Promise<void> {
    this.closed = true;
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    await session.ready.catch(() => undefined);
    await session.client.end().catch(() => undefined);
    this.die(session);
  }

  private lease(session: Session, name: string): HeldLock {
    let onLost: () => void = () => undefined;
    const lost = new Promise<void>((resolve) => (onLost = resolve));
    let released: Promise<void> | undefined;
    session.leases.set(name, () => {
      this.names.delete(name);
      onLost();
    });
    const release = async () => {
      if (!session.leases.delete(name)) return;
      try {
        // A session that died has let go already; one that fails the unlock now is dying.
        if (!session.dead) await this.query(session, 'SELECT pg_advisory_unlock(hashtext(current_schema()), hashtext($1))', [name]);
      } catch {
        this.drop(session);
      } finally {
        this.names.delete(name);
      }
    };
    return {
      lost,
      release: () => {
        released ??= release();
        return released;
      },
    };
  }

  /** The live session, opened when none is. */
  private async current(): Promise<Session> {
    if (!this.session || this.session.dead) this.session = this.open();
    const session = this.session;
    await session.ready;
    return session;
  }

  private open(): Session {
    const client = new Client({
      ...this.config,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
      query_timeout: this.timing.queryTimeoutMs,
    });
    const session: Session = { client, ready: Promise.resolve(), dead: false, leases: new Map(), heartbeat: undefined, queue: Promise.resolve() };
    // Without listeners a dropped connection would be an uncaught 'error' event and end the process.
    client.on('error', () => this.drop(session));
    client.on('end', () => this.die(session));
    session.ready = client.connect().then(
      () => {
        if (!session.dead) session.heartbeat = this.heartbeat(session);
      },
      (error: unknown) => {
        this.drop(session);
        throw error;
      },
    );
    return session;
  }

  /**
   * A query on the session once those asked before it are answered: pg warns of (and will refuse)
   * overlapping queries on a client, and its query_timeout, counted from the call, would count the
   * wait behind a slow query and drop the session for a burst of lease requests.
   */
  private query<R extends QueryResultRow>(session: Session, text: string, values?: unknown[]): Promise<QueryResult<R>> {
    const result = session.queue.then(() => session.client.query<R>(text, values));
    session.queue = result.catch(() => undefined);
    return result;
  }

  /** A connection in an unknown state: closed, so that the server lets its locks go, and its holders told. */
  private drop(session: Session): void {
    if (session.dead) return;
    this.die(session);
    void session.client.end().catch(() => undefined);
  }

  /** Asks a session holding leases whether it is alive; one that does not answer in time is dropped. */
  private heartbeat(session: Session): NodeJS.Timeout {
    let asking = false;
    const timer = setInterval(() => {
      if (asking || session.dead || session.leases.size === 0) return;
      asking = true;
      this.query(session, 'SELECT 1')
        .catch(() => this.drop(session))
        .finally(() => (asking = false));
    }, this.timing.heartbeatMs);
    // The heartbeat alone keeps no process alive.
    timer.unref();
    return timer;
  }

  private die(session: Session): void {
    session.dead = true;
    clearInterval(session.heartbeat);
    if (this.session === session) this.session = undefined;
    const told = [...session.leases.values()];
    session.leases.clear();
    for (const tell of told) tell();
  }
}
