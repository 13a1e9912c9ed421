import { randomUUID } from 'node:crypto';
import { loggedError, type Logger } from '../core/logger';
import { planRunDue } from '../domain/plan';
import { BackplaneError } from '../errors';
import { scheduledPlans } from '../queries/plans';
import { unfinishedTaskOf } from '../queries/tasks';
import { pruneRunning } from './backup/prune-state';
import type { AppDeps } from './deps';
import { every, type Repeating } from './every';
import { runPlan } from './plan-run/run-plan';
import { scheduleSince, storageOfPlan } from './plans';
import { systemPrincipal } from './principal';

/**
 * Starts each scheduled plan's run when a slot of its schedule comes due, as Backplane itself.
 * Every process may run one: runPlan, under the tenant lock, starts nothing when the plan runs
 * already or when another run has started since the scheduler looked, so a slot gets one run
 * however many processes look. Slots missed while no process ran are served by one run.
 */
export function startPlanScheduler(deps: AppDeps, logger: Logger, everyMs: number, clock: () => Date = () => new Date()): Repeating {
  const tick = async (stopped: () => boolean) => {
    const now = clock();
    for (const { tenantId, plan, lastStartedAt } of await scheduledPlans(deps.db)) {
      if (stopped()) return;
      if (!planRunDue(plan.schedule, scheduleSince(plan, lastStartedAt), now)) continue;
      // Its run goes on, or its storage is being pruned: the slot is served once that is over.
      if ((await unfinishedTaskOf(deps.db, tenantId, plan.id)) !== null) continue;
      if (await pruneRunning(deps, tenantId, storageOfPlan(plan))) continue;
      const request = { principal: systemPrincipal(tenantId), correlationId: randomUUID() };
      await runPlan(deps, request, plan.id, { now, lastStartedAtSeen: lastStartedAt }).catch((error: unknown) => {
        // Another process served the slot, or the plan started meanwhile: nothing went wrong.
        if (error instanceof BackplaneError && error.code === 'CONFLICT') return;
        logger.warn('scheduled plan run did not start', { planId: plan.id, error: loggedError(error) });
      });
    }
  };
  return every(everyMs, tick, logger, 'plan schedule check failed');
}
