import type { Logger } from '../../core/logger';
import { activeAuditDestinations } from '../../queries/audit-destinations';
import type { SqlDatabase } from '../../sql/database';
import { startLeasedLoops } from '../leased-loops';
import { deliverDestination, type DeliveryDeps, type DeliverySettings } from './destination-delivery';

export interface DeliveriesSettings extends DeliverySettings {
  /** How often destinations added, removed, or left by a process that died are looked for (ms). */
  scanEveryMs: number;
}

/** 10 s per request; retries from 1 s doubling to 5 min; the checkpoint written every 100 events or 250 ms; destinations looked for every 5 s. */
export const DELIVERY_DEFAULTS: DeliveriesSettings = {
  timeoutMs: 10_000,
  minBackoffMs: 1000,
  maxBackoffMs: 5 * 60_000,
  checkpointEvents: 100,
  checkpointMs: 250,
  scanEveryMs: 5000,
};

/**
 * Every process runs this; each destination is delivered by one process at a time, the holder
 * of its lease on the database. A destination whose holder dies (the lease dies with its
 * connection) is taken over at the next look by another process, from the checkpoint. Each
 * destination has a loop of its own: one that fails for ever holds back no other.
 */
export function startAuditDeliveries(deps: DeliveryDeps & { db: SqlDatabase }, logger: Logger, settings: DeliveriesSettings) {
  return startLeasedLoops(deps.db, logger, {
    list: () => activeAuditDestinations(deps.db),
    lockName: (destination) => `audit-delivery:${destination.id}`,
    run: (destination) => deliverDestination(deps, destination, settings),
    scanEveryMs: settings.scanEveryMs,
    stoppedMessage: 'audit delivery stopped: it resumes from its checkpoint',
    idField: 'destinationId',
    listFailure: 'audit destinations were not looked up',
  });
}
