import type { Logger } from '../core/logger';
import { writeDueDigests, type DigestDeps } from './audit-digests';
import { every, type Repeating } from './every';

/**
 * Looks every `everyMs` (at most once a minute) for tenants whose digest period is over and
 * writes their digests. Every process runs one; writeDueDigests takes a lock on the database and
 * looks again under it, so a period gets one digest however many processes look.
 */
export function startAuditDigestScheduler(deps: DigestDeps, logger: Logger, everyMs: number): Repeating {
  return every(
    Math.min(everyMs, 60_000),
    async () => {
      await writeDueDigests(deps);
    },
    logger,
    'audit digests were not written',
  );
}
