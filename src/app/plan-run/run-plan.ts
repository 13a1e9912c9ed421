import { randomUUID } from 'node:crypto';
import { DomainError } from '../../core/errors';
import { task, taskStream } from '../../domain/task';
import { organizationById } from '../../queries/organizations';
import { lastRunStartOf, planById } from '../../queries/plans';
import { protectedProjects } from '../../queries/repositories';
import { taskById, unfinishedTaskOf, type TaskView } from '../../queries/tasks';
import { execute, type AppDeps, type Request } from '../deps';
import { abandonWhenSilent } from '../abandon';
import { pruneRunning } from '../backup/prune-state';
import { found } from '../found';
import { storageOfPlan } from '../plans';
import { TaskRun } from './task-run';

/** A run the plan's schedule starts: its time, and the start of the plan's latest run the scheduler saw (another process may have served the slot since). */
export interface ScheduledStart {
  now: Date;
  lastStartedAtSeen: Date | null;
}

/**
 * runPlan: records the start of a task over the organization's protected projects and answers
 * with it at once; the projects are read in the background. One task at a time per plan.
 */
export async function runPlan(deps: AppDeps, request: Request, planId: string, scheduled?: ScheduledStart): Promise<TaskView> {
  const { tenantId } = request.principal;
  let planView = found(await planById(deps.db, tenantId, planId), 'plan', planId);
  const organization = found(await organizationById(deps.db, tenantId, planView.organizationId), 'plan', planId);
  const taskId = randomUUID();
  // Under the tenant lock, and with the read model caught up before it is let go: a second
  // runPlan of the plan sees this task running.
  const repositories = await deps.tenantLock.run(tenantId, async () => {
    const unfinished = await unfinishedTaskOf(deps.db, tenantId, planId);
    if (unfinished !== null) await abandonIfStale(deps, request, unfinished.id);
    if (scheduled !== undefined && (await lastRunStartOf(deps.db, tenantId, planId))?.getTime() !== scheduled.lastStartedAtSeen?.getTime()) {
      throw new DomainError('CONFLICT', 'another run has served this slot of the schedule');
    }
    // Looked up again under the lock, which settings changes take too: a plan deleted since the
    // first look gets no task, and the run writes to the storage the plan names now.
    const current = await planById(deps.db, tenantId, planId);
    if (current !== null) planView = current;
    // A prune removes what no snapshot names yet; what this run is about to store would be among it.
    if (await pruneRunning(deps, tenantId, storageOfPlan(planView))) {
      throw new DomainError('CONFLICT', "a prune of the plan's storage is running; run the plan when it has finished");
    }
    const repositories = await protectedProjects(deps.db, tenantId, organization.id);
    await execute(deps, request, task, taskStream(taskId), {
      type: 'StartBackupTask',
      data: {
        taskId,
        planId,
        organizationId: organization.id,
        repositoriesTotal: repositories.length,
        now: (scheduled?.now ?? new Date()).toISOString(),
        known: { planActive: current !== null },
      },
    });
    return repositories;
  });
  const run = new TaskRun(deps, request, { taskId, plan: planView, organization, repositories });
  if (deps.jobs.signal.aborted) await run.finish('the service stopped');
  else deps.jobs.start(`task ${taskId}`, (signal) => run.run(signal), 'plan_run');
  return found(await taskById(deps.db, tenantId, taskId), 'task', taskId);
}

/**
 * Records a task that has shown no sign of life for too long as failed; refuses with CONFLICT
 * while it is alive.
 */
export function abandonIfStale(deps: AppDeps, request: Request, taskId: string): Promise<void> {
  return abandonWhenSilent(deps, request, task, taskStream(taskId), taskId, (silence) => ({ type: 'AbandonBackupTask' as const, data: silence }));
}
