import { PGlite } from '@electric-sql/pglite';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, rmSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KeyedLocks, type LockRequest } from './keyed-locks';
import { LockTimeoutError, type HeldLock, type SqlDatabase, type SqlTransaction } from './database';
import { runStatement } from './pglite-statement';
import { SentStatements } from './sent-statements';
import { MutexTimeoutError } from './keyed-mutex';
import { lockFolder, type FolderLock } from './folder-lock';

/**
 * PostgreSQL's defaults are sized for a server of its own: 128 MB of shared buffers take that
 * much of this process once touched. Backplane's working set is small, and the operating system's
 * page cache still holds the files, so a small pool keeps the process light at little cost.
 */
const MEMORY_SETTINGS = ['-c', 'shared_buffers=32MB', '-c', 'max_connections=4', '-c', 'temp_buffers=2MB'];

function pgliteOptions(): { startParams: string[] } {
  return { startParams: [...PGlite.defaultStartParams, ...MEMORY_SETTINGS] };
}

/** The longest a run of statements holds the event loop before it gives it a turn (ms). */
const TURN_MS = 5;

/** Creating a cluster takes seconds; a child that runs this long is stuck, not slow. */
const CREATE_TIMEOUT_MS = 10 * 60_000;

/**
 * Creates the cluster in a process of its own. initdb runs in a second WebAssembly instance whose
 * memory, about 500 MB, this process would keep long after; the child gives it back when it exits.
 * It builds beside the folder and the folder is renamed once complete, so a creation cut short
 * leaves nothing that looks like a cluster. An empty folder already there (a volume mounted at
 * it) is built in place, as it cannot be renamed over.
 */
async function createCluster(pgdata: string): Promise<void> {
  const inPlace = existsSync(pgdata);
  if (inPlace && readdirSync(pgdata).length > 0) {
    throw new Error(`${pgdata} holds files but no database cluster (no PG_VERSION): move it away, or restore the cluster it held`);
  }
  const building = inPlace ? pgdata : `${pgdata}.creating`;
  if (!inPlace) rmSync(building, { recursive: true, force: true });
  const script = `const { PGlite } = require(${JSON.stringify(require.resolve('@electric-sql/pglite'))});
    PGlite.create(process.argv[1]).then((db) => db.close());`;
  // The parent's environment without NODE_OPTIONS, which may load what only the parent needs.
  const { NODE_OPTIONS: _, ...env } = process.env;
  await promisify(execFile)(process.execPath, ['-e', script, building], { env, timeout: CREATE_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
  if (!inPlace) renameSync(building, pgdata);
}

/**
 * Embedded PostgreSQL (PGlite, WebAssembly) in this process. A folder serves one process
 * at a time, so named locks are held in memory.
 */
export class PgliteDatabase implements SqlDatabase {
  private readonly locks = new Set<string>();
  private readonly sections = new KeyedLocks();
  private lastTurn = performance.now();

  private constructor(
    private readonly db: PGlite,
    private readonly folderLock: FolderLock | undefined,
  ) {}

  /**
   * Opens the store in `folder`, or in memory when no folder is given. An in-memory store can
   * start from a copy made by dump(), which is much faster than creating a database cluster.
   */
  static async open(folder?: string, options: { from?: Blob } = {}): Promise<PgliteDatabase> {
    if (folder === undefined) return new PgliteDatabase(await PGlite.create({ loadDataDir: options.from, ...pgliteOptions() }), undefined);
    const folderLock = lockFolder(folder);
    try {
      const pgdata = join(folder, 'pgdata');
      if (!existsSync(join(pgdata, 'PG_VERSION'))) await createCluster(pgdata);
      return new PgliteDatabase(await PGlite.create(pgdata, pgliteOptions()), folderLock);
    } catch (error) {
      folderLock.release();
      throw error;
    }
  }

  /** A copy of the whole database, for open(undefined, { from }). */
  dump(): Promise<Blob> {
    return this.db.dumpDataDir('none') as Promise<Blob>;
  }

  async query<R>(sql: string, params?: unknown[]): Promise<R[]> {
    await this.turn();
    await this.db._checkReady();
    // In PGlite's turn for transactions, as its own query takes it: never inside another caller's transaction.
    return this.db._runExclusiveTransaction(() => runStatement<R>(this.db, sql, params, { sync: true }));
  }

  async exec(sql: string): Promise<void> {
    await this.turn();
    await this.db.exec(sql);
  }

  /**
   * A turn of the event loop once TURN_MS have passed since the last: a caller that queries or
   * appends in a loop (a plan run recording results, a catch-up) would otherwise hold timers and
   * requests until it ends, as every answer settles without one.
   */
  private turn(): Promise<void> | undefined {
    if (performance.now() - this.lastTurn < TURN_MS) return undefined;
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.lastTurn = performance.now();
    });
  }

  // PGlite runs one statement at a time and holds other callers while a transaction is open.
  // It runs on this thread, and its promises settle without a turn of the event loop: a run of
  // transactions (a projection catching up) would hold requests and timers until it ends, so each
  // lets them in first.
  async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.lastTurn = performance.now();
    return this.db.transaction(async (tx) => {
      // Statements sent go to PGlite at once; it runs them in order. Nothing travels: what sending
      // keeps here is the transaction's rule that a failure among them fails what follows.
      const sent = new SentStatements();
      // Within the transaction, which holds PGlite's turn for transactions; once it has ended, a
      // statement would run in whatever transaction holds the turn then, so it is refused.
      const run = async <R>(sql: string, params?: unknown[]) => {
        if (tx.closed) throw new Error('the transaction has ended: a statement of it can no longer run');
        return runStatement<R>(this.db, sql, params, { sync: false });
      };
      try {
        const result = await fn({
          query: <R>(sql: string, params?: unknown[]) => sent.after(run<R>(sql, params)),
          send: (sql: string, params?: unknown[]) => sent.send(run(sql, params)),
        });
        await sent.settled();
        return result;
      } catch (error) {
        // Rolled back once every statement sent has run: none runs after the transaction.
        await sent.finished();
        throw error;
      }
    });
  }

  /** One process serves the folder: a lock in memory is shared with everyone who can ask. */
  withLock<T>(name: string, fn: () => Promise<T>, options?: { timeoutMs: number }): Promise<T> {
    return this.withLocks([{ name }], fn, options);
  }

  async withLocks<T>(requests: readonly LockRequest[], fn: () => Promise<T>, options?: { timeoutMs: number }): Promise<T> {
    let entered = false;
    try {
      return await this.sections.run(
        requests,
        () => {
          entered = true;
          return fn();
        },
        { timeoutMs: options?.timeoutMs },
      );
    } catch (error) {
      // Only the wait for the locks is reported as the locks' timeout: whatever fn threw is fn's.
      if (!entered && error instanceof MutexTimeoutError) throw new LockTimeoutError(requests.map((request) => request.name).join(', '), options!.timeoutMs);
      throw error;
    }
  }

  async tryLock(name: string): Promise<HeldLock | null> {
    if (this.locks.has(name)) return null;
    this.locks.add(name);
    return {
      lost: new Promise<void>(() => undefined),
      release: async () => {
        this.locks.delete(name);
      },
    };
  }

  async close(): Promise<void> {
    try {
      await this.db.close();
    } finally {
      this.folderLock?.release();
    }
  }
}
