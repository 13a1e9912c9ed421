import { randomUUID } from 'node:crypto';
import { DomainError } from '../core/errors';
import type { Logger } from '../core/logger';
import { restore, restoreStream } from '../domain/restore';
import { runningRestores } from '../queries/restores';
import { unfinishedTasks } from '../queries/tasks';
import type { AppDeps, Request } from './deps';
import { every, type Repeating } from './every';
import { abandonWhenSilent } from './abandon';
import { abandonIfStale } from './plan-run/run-plan';
import { systemPrincipal } from './principal';

export interface StaleWork {
  tasks: number;
  restores: number;
}

/**
 * Records as failed, as Backplane itself, every task and restore whose process is gone: silent
 * in its stream and without a beat for longer than the stale time. Without this a run or a
 * restore whose process died would show RUNNING until someone ran the plan again (a restore: for
 * ever). One that is alive refuses, and is left alone; another process doing the same check at
 * the same time meets the stream's expected revision, and one of the two records the failure.
 */
export async function reapStaleWork(deps: AppDeps): Promise<StaleWork> {
  const reaped: StaleWork = { tasks: 0, restores: 0 };
  const request = (tenantId: string): Request => ({ principal: systemPrincipal(tenantId), correlationId: randomUUID() });
  for (const { tenantId, id } of await unfinishedTasks(deps.db)) {
    if (await alive(() => abandonIfStale(deps, request(tenantId), id))) continue;
    reaped.tasks += 1;
  }
  for (const { tenantId, id } of await runningRestores(deps.db)) {
    if (await alive(() => abandonRestoreIfStale(deps, request(tenantId), id))) continue;
    reaped.restores += 1;
  }
  return reaped;
}

/** Records a restore that has shown no sign of life for too long as failed; refuses with CONFLICT while it is alive. */
export function abandonRestoreIfStale(deps: AppDeps, request: Request, restoreId: string): Promise<void> {
  return abandonWhenSilent(deps, request, restore, restoreStream(restoreId), restoreId, (silence) => ({ type: 'AbandonRestore' as const, data: silence }));
}

/** Whether the work refused to be taken for gone (it is alive, or has ended meanwhile). */
async function alive(abandon: () => Promise<void>): Promise<boolean> {
  try {
    await abandon();
    return false;
  } catch (error) {
    if (error instanceof DomainError && error.code === 'CONFLICT') return true;
    throw error;
  }
}

export interface StaleWorkTimes {
  /** How often to look for work whose process is gone. */
  everyMs: number;
  /** How often to sweep the backup places (a walk of every storage folder): at start, then this often. */
  sweepEveryMs: number;
  /** How long a leftover stays untouched before it is taken for one: work under way keeps its files younger. */
  leftoversAfterMs: number;
}

/**
 * Looks for stale work soon after start and then every `everyMs`; sweeps the backup places of
 * what interrupted work left behind (scratch files, half-made mirrors, half-written objects).
 */
export function startStaleWorkCheck(deps: AppDeps, logger: Logger, times: StaleWorkTimes): Repeating {
  let sweptAt = Number.NEGATIVE_INFINITY;
  const check = async (stopped: () => boolean) => {
    const reaped = await reapStaleWork(deps);
    if (reaped.tasks + reaped.restores > 0) logger.warn('work whose process is gone was recorded as failed', { ...reaped });
    if (stopped() || Date.now() - sweptAt < times.sweepEveryMs) return;
    sweptAt = Date.now();
    const removed = await deps.backup.sweepLeftovers(times.leftoversAfterMs);
    if (removed > 0) logger.info('leftovers of interrupted backup work were removed', { removed });
  };
  // Soon after start, not during it: a process that just came up has the most to sweep.
  return every(times.everyMs, check, logger, 'stale work check failed', Math.min(times.everyMs, 1_000));
}
