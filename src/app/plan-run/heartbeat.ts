import type { AppDeps } from '../deps';

/**
 * Beats for the task until the returned function is called, ten times per stale time: the
 * task's liveness lease, which keeps another runPlan from taking a live task for a dead one.
 */
export function beatWhileRunning(deps: Pick<AppDeps, 'heartbeats' | 'work'>, tenantId: string, taskId: string): () => Promise<void> {
  const { heartbeats, work } = deps;
  let beating: Promise<void> = Promise.resolve();
  const beat = () => {
    // A beat lost to a busy database is made up by the next; one at a time.
    beating = beating.then(() => heartbeats.beat(tenantId, taskId)).catch(() => undefined);
  };
  beat();
  const timer = setInterval(beat, Math.max(1, Math.floor(work.taskStaleAfterMs / 10)));
  return async () => {
    clearInterval(timer);
    await beating;
    await heartbeats.stop(taskId).catch(() => undefined);
  };
}
