import { randomUUID } from 'node:crypto';
import { loggedError, type Logger } from '../core/logger';
import { syncDue } from '../domain/organization';
import { organizationById } from '../queries/organizations';
import { syncSchedules } from '../queries/repositories';
import type { AppDeps } from './deps';
import { every, type Repeating } from './every';
import { systemPrincipal } from './principal';
import { startSync } from './repository-sync';

/**
 * Starts each organization's repository-list sync when its schedule comes due, as Backplane
 * itself. Every process may run one: the start of a sync is refused while another runs, so an
 * organization is synced once per slot however many processes look.
 */
export function startSyncScheduler(deps: AppDeps, logger: Logger, everyMs: number, clock: () => Date = () => new Date()): Repeating {
  const tick = async (stopped: () => boolean) => {
    const now = clock();
    for (const { tenantId, organizationId, lastStartedAt } of await syncSchedules(deps.db)) {
      if (stopped()) return;
      const organization = await organizationById(deps.db, tenantId, organizationId);
      // A pending SSO organization has nobody to read GitLab as until it is authorized.
      if (organization === null || organization.passwordId === null || !syncDue(organization.repositoriesSync, lastStartedAt, now)) continue;
      const request = { principal: systemPrincipal(tenantId), correlationId: randomUUID() };
      // Another process (or the organization's own first sync) may have served this slot: then it is not synced again.
      await startSync(deps, request, organization, lastStartedAt === null ? 'FIRST' : 'SCHEDULE', { now, lastStartedAtSeen: lastStartedAt }).catch(
        (error: unknown) => logger.warn('scheduled sync did not start', { organizationId, error: loggedError(error) }),
      );
    }
  };
  return every(everyMs, tick, logger, 'sync schedule check failed');
}
