import { loggedError, type Logger } from '../../core/logger';
import { activeAuditDestinations } from '../../queries/audit-destinations';
import type { HeldLock, SqlDatabase } from '../../sql/database';
import { every } from '../every';
import { deliverDestination, type DeliveryDeps, type DeliverySettings } from './destination-delivery';

export interface DeliveriesSettings extends DeliverySettings {
  /** How often destinations added, removed, or left by a process that died are looked for (ms). */
  scanEveryMs: number;
}

/** 10 s per request; retries from 1 s doubling to 5 min; destinations looked for every 5 s. */
export const DELIVERY_DEFAULTS: DeliveriesSettings = { timeoutMs: 10_000, minBackoffMs: 1000, maxBackoffMs: 5 * 60_000, scanEveryMs: 5000 };

interface Running {
  stop(): Promise<void>;
}

/**
 * Every process runs this; each destination is delivered by one process at a time, the holder
 * of its lease on the database. A destination whose holder dies (the lease dies with its
 * connection) is taken over at the next look by another process, from the checkpoint. Each
 * destination has a loop of its own: one that fails for ever holds back no other.
 */
export function startAuditDeliveries(deps: DeliveryDeps & { db: SqlDatabase }, logger: Logger, settings: DeliveriesSettings) {
  const running = new Map<string, Running>();
  let closing = false;

  const start = (destination: Awaited<ReturnType<typeof activeAuditDestinations>>[number], lease: HeldLock) => {
    const delivery = deliverDestination(deps, destination, settings);
    let released: Promise<void> | undefined;
    const release = () => {
      released ??= lease.release().catch(() => undefined);
      return released;
    };
    const entry: Running = {
      async stop() {
        await delivery.stop();
        await release();
      },
    };
    running.set(destination.id, entry);
    void lease.lost.then(() => delivery.stop());
    delivery.done
      .catch((error: unknown) =>
        logger.warn('audit delivery stopped: it resumes from its checkpoint', { destinationId: destination.id, error: loggedError(error) }),
      )
      .finally(() => {
        if (running.get(destination.id) === entry) running.delete(destination.id);
        void release();
      });
  };

  const look = async (stopped: () => boolean) => {
    const destinations = await activeAuditDestinations(deps.db);
    const active = new Set(destinations.map((destination) => destination.id));
    for (const [id, entry] of running) {
      if (!active.has(id)) {
        running.delete(id);
        await entry.stop();
      }
    }
    for (const destination of destinations) {
      if (stopped() || closing) return;
      if (running.has(destination.id)) continue;
      const lease = await deps.db.tryLock(`audit-delivery:${destination.id}`);
      if (lease === null) continue;
      if (closing) {
        await lease.release();
        return;
      }
      start(destination, lease);
    }
  };

  const repeating = every(settings.scanEveryMs, look, logger, 'audit destinations were not looked up', 0);
  return {
    async stop() {
      closing = true;
      await repeating.stop();
      await Promise.all([...running.values()].map((entry) => entry.stop()));
      running.clear();
    },
  };
}
