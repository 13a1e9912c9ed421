import { loggedError, type Logger } from '../core/logger';
import type { HeldLock, SqlDatabase } from '../sql/database';
import { every } from './every';

/**
 * One item's loop, as its holder runs it: `done` settles when it ends, `stop()` ends it. Stopped
 * with `flush: false` when the lease is lost: another process may hold the item already, and
 * progress written now would only race with its own.
 */
export interface LeasedLoop {
  done: Promise<void>;
  stop(options?: { flush?: boolean }): Promise<void>;
}

export interface LeasedLoopsOptions<Item extends { id: string }> {
  /** The items to serve now (added ones appear, removed ones go). */
  list: () => Promise<Item[]>;
  /** The lease's name for an item, unique on the database. */
  lockName: (item: Item) => string;
  run: (item: Item) => LeasedLoop;
  /** How often items added, removed, or left by a process that died are looked for (ms). */
  scanEveryMs: number;
  /** Logged when a loop stops on an error; `idField` names the item's id in the line. */
  stoppedMessage: string;
  idField: string;
  /** Logged when the items cannot be listed. */
  listFailure: string;
}

/**
 * Every process runs this; each item is served by one process at a time, the holder of its lease
 * on the database. An item whose holder dies (the lease dies with its connection) is taken over
 * at the next look by another process. Each item has a loop of its own: one that fails for ever
 * holds back no other.
 */
export function startLeasedLoops<Item extends { id: string }>(db: SqlDatabase, logger: Logger, options: LeasedLoopsOptions<Item>) {
  const running = new Map<string, { stop(): Promise<void> }>();
  let closing = false;

  const start = (item: Item, lease: HeldLock) => {
    const loop = options.run(item);
    let released: Promise<void> | undefined;
    const release = () => {
      released ??= lease.release().catch(() => undefined);
      return released;
    };
    const entry = {
      async stop() {
        await loop.stop();
        await release();
      },
    };
    running.set(item.id, entry);
    void lease.lost.then(() => loop.stop({ flush: false }));
    loop.done
      .catch((error: unknown) => logger.warn(options.stoppedMessage, { [options.idField]: item.id, error: loggedError(error) }))
      .finally(() => {
        if (running.get(item.id) === entry) running.delete(item.id);
        void release();
      });
  };

  const look = async (stopped: () => boolean) => {
    const items = await options.list();
    const active = new Set(items.map((item) => item.id));
    for (const [id, entry] of running) {
      if (!active.has(id)) {
        running.delete(id);
        await entry.stop();
      }
    }
    for (const item of items) {
      if (stopped() || closing) return;
      if (running.has(item.id)) continue;
      const lease = await db.tryLock(options.lockName(item));
      if (lease === null) continue;
      if (closing) {
        await lease.release();
        return;
      }
      start(item, lease);
    }
  };

  const repeating = every(options.scanEveryMs, look, logger, options.listFailure, 0);
  return {
    async stop() {
      closing = true;
      await repeating.stop();
      await Promise.all([...running.values()].map((entry) => entry.stop()));
      running.clear();
    },
  };
}
