import { randomUUID } from 'node:crypto';
import { loggedError, type Logger } from '../core/logger';
import { credential, credentialStream, EXPIRING_WITHIN_DAYS } from '../domain/credential';
import type { AppDeps } from './deps';
import { execute } from './deps';
import { every, type Repeating } from './every';
import { systemPrincipal } from './principal';

const LOCK = 'credential-expiry-check';

/**
 * Records CredentialExpiring, as Backplane, for each credential whose token has entered its last
 * EXPIRING_WITHIN_DAYS days, so that it is noticed without waiting for its next verification. The
 * decider records it once per credential and expiry day; this only finds the candidates.
 */
export async function recordExpiringCredentials(deps: AppDeps, logger: Logger, now: Date, stopped: () => boolean = () => false): Promise<number> {
  const horizon = new Date(now.getTime() + EXPIRING_WITHIN_DAYS * 86_400_000).toISOString().slice(0, 10);
  // Not removed, not refused for good, expiring by the horizon's day and not yet told for that
  // day: a superset of what the decider records (it judges the exact hour and the expired ones).
  // Its organization not removed either: a removal stopped before it reached each credential leaves them unremoved.
  const candidates = await deps.db.query<{ tenant_id: string; id: string }>(
    `SELECT c.tenant_id, c.id FROM credentials c JOIN organizations o ON o.id = c.organization_id AND o.removed_at IS NULL
      WHERE c.removed_at IS NULL AND c.token_expires_at IS NOT NULL AND c.token_expires_at <= $1::date AND c.token_expires_at > $2::date
        AND c.token_expiring_for IS DISTINCT FROM c.token_expires_at
        AND (c.verification_failure IS NULL OR c.verification_failure NOT IN ('INVALID_TOKEN', 'REVOKED', 'EXPIRED'))
      ORDER BY c.tenant_id, c.id`,
    [horizon, now.toISOString().slice(0, 10)],
  );
  let recorded = 0;
  for (const { tenant_id: tenantId, id } of candidates) {
    if (stopped()) break;
    const request = { principal: systemPrincipal(tenantId), correlationId: randomUUID() };
    try {
      const result = await execute(deps, request, credential, credentialStream(id), { type: 'RecordCredentialExpiring', data: { credentialId: id, now } });
      if (result.position !== null) recorded += 1;
    } catch (error) {
      // One credential that cannot be recorded (removed meanwhile, a store hiccup) keeps no other from it.
      logger.warn('credential expiry not recorded', { credentialId: id, error: loggedError(error) });
    }
  }
  return recorded;
}

/**
 * Every `everyMs` (at most hourly), one process at a time (the holder of a lease on the database)
 * looks for tokens entering their last days. `clock` is what the look takes to be now.
 */
export function startCredentialExpiryCheck(deps: AppDeps, logger: Logger, everyMs: number, clock: () => Date = () => new Date()): Repeating {
  return every(
    Math.min(everyMs, 60 * 60_000),
    async (stopped) => {
      const lease = await deps.db.tryLock(LOCK);
      if (lease === null) return;
      try {
        await recordExpiringCredentials(deps, logger, clock(), stopped);
      } finally {
        await lease.release();
      }
    },
    logger,
    'credential expiry check failed',
    0,
  );
}
