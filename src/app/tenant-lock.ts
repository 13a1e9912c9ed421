import { ConcurrencyError } from '../core/errors';
import { KeyedLocks, type LockRequest } from '../sql/keyed-locks';
import { MutexTimeoutError } from '../sql/keyed-mutex';
import { LockTimeoutError, type SqlDatabase } from '../sql/database';

/**
 * Scoped commands of one tenant that hold or wait for the database's locks at once, in a process:
 * each takes one of the process's few lock connections, and one busy tenant must not take them all.
 */
const SCOPED_AT_ONCE = 4;

/**
 * The lock for commands whose rules look beyond their own aggregate (unique names, references
 * that must exist), across every process on the database: the check and the append then see no
 * concurrent change, provided the read models include each append before the lock is let go
 * (executeLocked does both). Within a process a queue orders them; between processes a database
 * lock does.
 *
 * Most such commands hold the tenant's lock alone (`run`): one at a time per tenant. A command
 * whose rule looks at a few named things only (how many plans one credential is on) holds the
 * tenant's lock shared and the lock of each such thing alone (`runScoped`): commands about other
 * things of the tenant go side by side with it (at most SCOPED_AT_ONCE per process), commands
 * about the same thing take turns, and a command that holds the tenant's lock alone waits for
 * all of them (and they for it).
 */
export class TenantLock {
  private readonly local = new KeyedLocks();
  private readonly places = new Places(SCOPED_AT_ONCE);

  constructor(
    private readonly db: SqlDatabase,
    private readonly options: { waitMs?: number } = {},
  ) {}

  /** Holds the tenant's lock alone. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.hold([{ name: lockName(key) }], undefined, fn);
  }

  /** Holds the tenant's lock shared, and the lock of each scope (`credential:<id>`) alone. */
  runScoped<T>(key: string, scopes: readonly string[], fn: () => Promise<T>): Promise<T> {
    const own = [...new Set(scopes)].sort().map((scope) => ({ name: `${lockName(key)}:${scope}` }));
    return this.hold([{ name: lockName(key), shared: true }, ...own], key, fn);
  }

  /**
   * Takes the locks in this process, then, for a scoped command, one of the tenant's places (in
   * that order: a command waiting here for a scope holds no place), then the same locks in the
   * database, and runs fn; a wait past the deadline is a CONFLICT.
   */
  private async hold<T>(locks: LockRequest[], placeOf: string | undefined, fn: () => Promise<T>): Promise<T> {
    const timeoutMs = this.options.waitMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    let entered = false;
    const inDatabase = () =>
      this.db.withLocks(
        locks,
        () => {
          entered = true;
          return fn();
        },
        { timeoutMs: Math.max(deadline - Date.now(), 1) },
      );
    try {
      // The queue in this process and the database's lock share one deadline: no request waits behind them for ever.
      return await this.local.run(
        locks,
        () => (placeOf === undefined ? inDatabase() : this.places.run(placeOf, inDatabase, Math.max(deadline - Date.now(), 1))),
        { timeoutMs },
      );
    } catch (error) {
      // Only a wait for the locks is the lock's to report: whatever fn threw is fn's.
      if (!entered && (error instanceof LockTimeoutError || error instanceof MutexTimeoutError))
        throw new ConcurrencyError('another change to this tenant is taking long: try again');
      throw error;
    }
  }
}

/** A few places per key, taken in arrival order, each given up after its caller's deadline. */
class Places {
  private readonly keys = new Map<string, { free: number; queue: (() => void)[] }>();

  constructor(private readonly size: number) {}

  async run<T>(key: string, fn: () => Promise<T>, timeoutMs: number): Promise<T> {
    let state = this.keys.get(key);
    if (!state) {
      state = { free: this.size, queue: [] };
      this.keys.set(key, state);
    }
    const places = state;
    if (places.free > 0) places.free -= 1;
    else {
      await new Promise<void>((resolve, reject) => {
        const take = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          places.queue.splice(places.queue.indexOf(take), 1);
          reject(new MutexTimeoutError(key, timeoutMs));
        }, timeoutMs);
        places.queue.push(take);
      });
    }
    try {
      return await fn();
    } finally {
      // The place goes to the next in line, or back to the free ones.
      const next = places.queue.shift();
      if (next) next();
      else {
        places.free += 1;
        if (places.free === this.size) this.keys.delete(key);
      }
    }
  }
}

function lockName(key: string): string {
  return `tenant-commands:${key}`;
}
