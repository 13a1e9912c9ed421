// Task: one run of a backup plan. It records what it read of each protected repository, which
// credential made how many requests, and when GitLab made it wait: the "was it used" of the audit.
import type { Decider } from './decider';
import { DomainError } from './errors';
import type { CredentialUse } from './repository';

export interface RepositoryCounts {
  branches: number;
  tags: number;
  issues: number;
  mergeRequests: number;
}

export interface ThrottledPeriod {
  from: string;
  until: string;
}

type Ref = { taskId: string; planId: string; organizationId: string };

export type RepositoryResult =
  | { ok: true; repositoryId: string; fullPath: string; counts: RepositoryCounts; requests: number; credentialsUsed: CredentialUse[] }
  | { ok: false; repositoryId: string; fullPath: string; reason: string; requests: number; credentialsUsed: CredentialUse[] };

export interface TaskSummary {
  repositoriesDone: number;
  repositoriesFailed: number;
  durationMs: number;
  /** Every credential that made a request, with how many; null credentialId: the main login. */
  credentialsUsed: CredentialUse[];
  throttledPeriods: ThrottledPeriod[];
}

export type TaskEvent =
  | { type: 'BackupTaskStarted'; data: Ref & { repositoriesTotal: number; startedAt: string } }
  | { type: 'CredentialThrottled'; data: Ref & { credentialId: string | null; login: string; until: string } }
  | { type: 'BackupTaskThrottled'; data: Ref & { from: string; until: string } }
  | { type: 'BackupTaskResumed'; data: Ref & { at: string } }
  | { type: 'RepositoryBackedUp'; data: Ref & Omit<Extract<RepositoryResult, { ok: true }>, 'ok'> }
  | { type: 'RepositoryBackupFailed'; data: Ref & Omit<Extract<RepositoryResult, { ok: false }>, 'ok'> }
  | { type: 'BackupTaskCompleted'; data: Ref & TaskSummary & { finishedAt: string } }
  | { type: 'BackupTaskFailed'; data: Ref & TaskSummary & { finishedAt: string; reason: string } };

export type TaskCommand =
  | { type: 'StartBackupTask'; data: Ref & { repositoriesTotal: number; now: string; known: { planActive: boolean } } }
  | { type: 'RecordCredentialThrottled'; data: { credentialId: string | null; login: string; until: string } }
  | { type: 'RecordTaskThrottled'; data: { from: string; until: string } }
  | { type: 'RecordTaskResumed'; data: { at: string } }
  | { type: 'RecordRepositoryResults'; data: { results: RepositoryResult[] } }
  | { type: 'FinishBackupTask'; data: TaskSummary & { now: string; reason?: string } }
  /**
   * A task whose process went away says nothing more: once it has given no sign of life for
   * staleAfterMs, another run of the plan may record it as failed and start. A sign of life is
   * an event of its stream or a beat of its process (a live task reading one huge project, or
   * waiting out a long throttle, records no event for a long while, but keeps beating).
   */
  | { type: 'AbandonBackupTask'; data: { now: string; lastSignOfLifeAt: string; staleAfterMs: number } };

export type TaskStatus = 'NONE' | 'RUNNING' | 'THROTTLED' | 'COMPLETED' | 'FAILED';

export interface TaskState {
  status: TaskStatus;
  ref: Ref | null;
  total: number;
  recorded: number;
  failed: number;
  startedAt: string | null;
}

export const task: Decider<TaskState, TaskCommand, TaskEvent> = {
  initialState: () => ({ status: 'NONE', ref: null, total: 0, recorded: 0, failed: 0, startedAt: null }),
  evolve(state, event) {
    switch (event.type) {
      case 'BackupTaskStarted': {
        const { taskId, planId, organizationId, repositoriesTotal, startedAt } = event.data;
        return { status: 'RUNNING', ref: { taskId, planId, organizationId }, total: repositoriesTotal, recorded: 0, failed: 0, startedAt };
      }
      case 'BackupTaskThrottled':
        return { ...state, status: 'THROTTLED' };
      case 'BackupTaskResumed':
        return { ...state, status: 'RUNNING' };
      case 'RepositoryBackedUp':
        return { ...state, recorded: state.recorded + 1 };
      case 'RepositoryBackupFailed':
        return { ...state, recorded: state.recorded + 1, failed: state.failed + 1 };
      case 'BackupTaskCompleted':
        return { ...state, status: 'COMPLETED' };
      case 'BackupTaskFailed':
        return { ...state, status: 'FAILED' };
      case 'CredentialThrottled':
        return state;
    }
  },
  decide(command, state) {
    if (command.type === 'StartBackupTask') {
      const { known, now, ...data } = command.data;
      if (state.status !== 'NONE') throw new DomainError('CONFLICT', `task ${data.taskId} already exists`);
      if (!known.planActive) throw new DomainError('NOT_FOUND', `no plan ${data.planId}`);
      if (!Number.isInteger(data.repositoriesTotal) || data.repositoriesTotal < 0)
        throw new DomainError('INVALID_INPUT', 'repositoriesTotal must be a whole number');
      return [{ type: 'BackupTaskStarted', data: { ...data, startedAt: now } }];
    }
    const ref = unfinished(state);
    switch (command.type) {
      case 'RecordCredentialThrottled':
        return [{ type: 'CredentialThrottled', data: { ...ref, ...command.data } }];
      case 'RecordTaskThrottled':
        if (state.status === 'THROTTLED') return [];
        return [{ type: 'BackupTaskThrottled', data: { ...ref, ...command.data } }];
      case 'RecordTaskResumed':
        if (state.status !== 'THROTTLED') return [];
        return [{ type: 'BackupTaskResumed', data: { ...ref, ...command.data } }];
      case 'RecordRepositoryResults': {
        const { results } = command.data;
        if (state.recorded + results.length > state.total) throw new DomainError('CONFLICT', `task ${ref.taskId} has ${state.total} repositories, not more`);
        return results.map((result): TaskEvent => {
          const { ok: _ok, ...data } = result;
          return result.ok
            ? { type: 'RepositoryBackedUp', data: { ...ref, ...(data as Omit<typeof result, 'ok'>) } }
            : { type: 'RepositoryBackupFailed', data: { ...ref, ...(data as Omit<typeof result, 'ok'>) } };
        });
      }
      case 'FinishBackupTask': {
        const { now, reason, ...summary } = command.data;
        const events: TaskEvent[] = [];
        if (state.status === 'THROTTLED') events.push({ type: 'BackupTaskResumed', data: { ...ref, at: now } });
        if (reason !== undefined) events.push({ type: 'BackupTaskFailed', data: { ...ref, ...summary, finishedAt: now, reason } });
        else events.push({ type: 'BackupTaskCompleted', data: { ...ref, ...summary, finishedAt: now } });
        return events;
      }
      case 'AbandonBackupTask': {
        const { now, lastSignOfLifeAt, staleAfterMs } = command.data;
        const silentMs = Date.parse(now) - Date.parse(lastSignOfLifeAt);
        if (!(silentMs > staleAfterMs)) throw new DomainError('CONFLICT', `task ${ref.taskId} of this plan is running`);
        // What the lost process counted of its credentials and waits went with it.
        const summary: TaskSummary = {
          repositoriesDone: state.recorded - state.failed,
          repositoriesFailed: state.failed,
          durationMs: Math.max(0, Date.parse(now) - Date.parse(state.startedAt!)),
          credentialsUsed: [],
          throttledPeriods: [],
        };
        const reason = `interrupted: no sign of life for ${Math.round(silentMs / 60_000)} minutes, its process is taken to be gone`;
        return [{ type: 'BackupTaskFailed', data: { ...ref, ...summary, finishedAt: now, reason } }];
      }
    }
  },
};

function unfinished(state: TaskState): Ref {
  if (state.status === 'NONE') throw new DomainError('NOT_FOUND', 'no such task');
  if (state.status === 'COMPLETED' || state.status === 'FAILED') throw new DomainError('CONFLICT', `task ${state.ref!.taskId} has finished`);
  return state.ref!;
}

export const taskStream = (taskId: string) => `task-${taskId}`;
