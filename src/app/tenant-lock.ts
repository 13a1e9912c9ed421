import { ConcurrencyError } from '../core/errors';
import { KeyedMutex, MutexTimeoutError } from '../sql/keyed-mutex';
import { LockTimeoutError, type SqlDatabase } from '../sql/database';

/**
 * One command at a time per tenant, across every process on the database, for the commands
 * whose rules look beyond their own aggregate (unique names, references that must exist):
 * the check and the append then see no concurrent change, provided the read models include
 * each append before the lock is let go (executeLocked does both). Within a process a mutex
 * queues them; between processes a database lock does.
 */
export class TenantLock {
  private readonly local = new KeyedMutex();

  constructor(
    private readonly db: SqlDatabase,
    private readonly options: { waitMs?: number } = {},
  ) {}

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const timeoutMs = this.options.waitMs ?? 15_000;
    try {
      // The queue in this process has the same deadline as the database's lock: no request waits behind it for ever.
      return await this.local.run(key, () => this.db.withLock(`tenant-commands:${key}`, fn, { timeoutMs }), { timeoutMs });
    } catch (error) {
      if (error instanceof LockTimeoutError || error instanceof MutexTimeoutError)
        throw new ConcurrencyError('another change to this tenant is taking long: try again');
      throw error;
    }
  }
}
