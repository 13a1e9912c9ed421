import { ConcurrencyError } from '../core/errors';
import { KeyedMutex } from '../core/keyed-mutex';
import type { SqlDatabase } from '../sql/database';

/**
 * One command at a time per tenant, across every process on the database, for the commands
 * whose rules look beyond their own aggregate (unique names, references that must exist):
 * the check and the append then see no concurrent change. Within a process a mutex queues
 * them; between processes a database lock does.
 */
export class TenantLock {
  private readonly local = new KeyedMutex();

  constructor(
    private readonly db: SqlDatabase,
    private readonly options: { waitMs?: number } = {},
  ) {}

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.local.run(key, async () => {
      const lock = await this.acquire(key);
      try {
        return await fn();
      } finally {
        await lock.release();
      }
    });
  }

  private async acquire(key: string) {
    const deadline = Date.now() + (this.options.waitMs ?? 15_000);
    for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
      const lock = await this.db.tryLock(`tenant-commands:${key}`);
      if (lock) return lock;
      if (Date.now() > deadline) throw new ConcurrencyError('another change to this tenant is taking long: try again');
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
