import { ConcurrencyError } from '../core/errors';
import { KeyedLocks, type LockRequest } from '../sql/keyed-locks';
import { MutexTimeoutError } from '../sql/keyed-mutex';
import { LockTimeoutError, type SqlDatabase } from '../sql/database';

/**
 * One command at a time per tenant, across every process on the database, for the commands
 * whose rules look beyond their own aggregate (unique names, references that must exist):
 * the check and the append then see no concurrent change, provided the read models include
 * each append before the lock is let go (executeLocked does both). Within a process a queue
 * orders them; between processes a database lock does.
 *
 * A command whose rule looks at a few named things only (how many plans one credential is on)
 * holds the tenant's lock shared and the lock of each such thing alone (`runScoped`): commands
 * about other things of the tenant go side by side with it, commands about the same thing take
 * turns, and a command that holds the tenant's lock alone waits for all of them (and they for it).
 */
export class TenantLock {
  private readonly local = new KeyedLocks();

  constructor(
    private readonly db: SqlDatabase,
    private readonly options: { waitMs?: number } = {},
  ) {}

  /** Holds the tenant's lock alone. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.hold([{ name: lockName(key) }], fn);
  }

  /** Holds the tenant's lock shared, and the lock of each scope (`credential:<id>`) alone. */
  runScoped<T>(key: string, scopes: readonly string[], fn: () => Promise<T>): Promise<T> {
    const own = [...new Set(scopes)].sort().map((scope) => ({ name: `${lockName(key)}:${scope}` }));
    return this.hold([{ name: lockName(key), shared: true }, ...own], fn);
  }

  private async hold<T>(requests: LockRequest[], fn: () => Promise<T>): Promise<T> {
    const timeoutMs = this.options.waitMs ?? 15_000;
    try {
      // The queue in this process has the same deadline as the database's lock: no request waits behind it for ever.
      return await this.local.run(requests, () => this.db.withLocks(requests, fn, { timeoutMs }), { timeoutMs });
    } catch (error) {
      if (error instanceof LockTimeoutError || error instanceof MutexTimeoutError)
        throw new ConcurrencyError('another change to this tenant is taking long: try again');
      throw error;
    }
  }
}

function lockName(key: string): string {
  return `tenant-commands:${key}`;
}
