// Restore: a snapshot brought back, into a new GitLab project or as an archive to download.
// The history says who restored which snapshot, where to and when, and what could not come back.
// No token is ever part of it: the password entry the restore wrote with is named, not its value.
import type { Decider } from './decider';
import { DomainError } from './errors';

export type RestoreTarget = 'GITLAB_PROJECT' | 'ARCHIVE';

export interface RestoreStart {
  restoreId: string;
  snapshotId: string;
  repositoryId: string;
  organizationId: string;
  target: RestoreTarget;
  /** The group the new project goes into; null for an archive. */
  namespacePath: string | null;
  /** The new project's path in the namespace; null for an archive. */
  projectName: string | null;
  /** The password entry whose token writes the project; null for an archive. */
  passwordId: string | null;
  startedAt: string;
}

/** What was re-created. */
export interface RestoreCounts {
  refs: number;
  labels: number;
  milestones: number;
  issues: number;
  notes: number;
  releases: number;
}

/** What GitLab cannot take back, kept in the snapshot's archive: GitLab's own refs, merge requests. */
export interface RestoreLeftOut {
  refs: string[];
  mergeRequests: number;
  /** Whether the snapshot holds a wiki, which a restore does not push (its bundle is in the archive). */
  wiki: boolean;
}

export interface RestoreOutcome {
  projectPath: string | null;
  projectId: number | null;
  archiveUrl: string | null;
  counts: RestoreCounts;
  leftOut: RestoreLeftOut;
  finishedAt: string;
}

export type RestoreEvent =
  | { type: 'RestoreStarted'; data: RestoreStart }
  | { type: 'RestoreProgressed'; data: { restoreId: string; step: string; stepsDone: number; stepsTotal: number; at: string } }
  | { type: 'RestoreCompleted'; data: RestoreOutcome & { restoreId: string } }
  /** projectPath: the project made before the failure, when one was (a restore never removes what it made). */
  | { type: 'RestoreFailed'; data: { restoreId: string; reason: string; projectPath: string | null; finishedAt: string } };

export type RestoreCommand =
  | { type: 'StartRestore'; data: RestoreStart }
  | { type: 'RecordRestoreProgress'; data: { step: string; stepsDone: number; stepsTotal: number; at: string } }
  | { type: 'CompleteRestore'; data: RestoreOutcome }
  | { type: 'FailRestore'; data: { reason: string; projectPath: string | null; finishedAt: string } }
  /** Taken for one whose process is gone: refused while its last sign of life (event or beat) is recent. */
  | { type: 'AbandonRestore'; data: { now: string; lastSignOfLifeAt: string; staleAfterMs: number } };

export interface RestoreState {
  restore: {
    restoreId: string;
    target: RestoreTarget;
    status: 'RUNNING' | 'COMPLETED' | 'FAILED';
    stepsDone: number;
    /** Where the new project goes; null for an archive. */
    projectPath: string | null;
  } | null;
}

const MAX_REASON = 1000;

export const restore: Decider<RestoreState, RestoreCommand, RestoreEvent> = {
  initialState: () => ({ restore: null }),
  evolve(state, event) {
    switch (event.type) {
      case 'RestoreStarted': {
        const { restoreId, target, namespacePath, projectName } = event.data;
        const projectPath = namespacePath !== null && projectName !== null ? `${namespacePath}/${projectName}` : null;
        return { restore: { restoreId, target, status: 'RUNNING', stepsDone: 0, projectPath } };
      }
      case 'RestoreProgressed':
        return state.restore ? { restore: { ...state.restore, stepsDone: event.data.stepsDone } } : state;
      case 'RestoreCompleted':
        return state.restore ? { restore: { ...state.restore, status: 'COMPLETED' } } : state;
      case 'RestoreFailed':
        return state.restore ? { restore: { ...state.restore, status: 'FAILED' } } : state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'StartRestore': {
        const start = command.data;
        if (state.restore !== null) throw new DomainError('CONFLICT', `restore ${start.restoreId} is already started`);
        const intoProject = [start.namespacePath, start.projectName, start.passwordId];
        if (start.target === 'GITLAB_PROJECT' && intoProject.some((value) => value === null || value.trim() === '')) {
          throw new DomainError('INVALID_INPUT', 'a restore into a GitLab project names its namespace, its project and the password entry that writes it');
        }
        if (start.target === 'ARCHIVE' && intoProject.some((value) => value !== null)) {
          throw new DomainError('INVALID_INPUT', 'a restore as an archive names no namespace, project or password entry');
        }
        return [{ type: 'RestoreStarted', data: start }];
      }
      case 'RecordRestoreProgress': {
        const running = runningOf(state);
        const { step, stepsDone, stepsTotal, at } = command.data;
        if (
          !Number.isSafeInteger(stepsTotal) ||
          stepsTotal < 1 ||
          !Number.isSafeInteger(stepsDone) ||
          stepsDone < running.stepsDone ||
          stepsDone > stepsTotal
        ) {
          throw new DomainError('INVALID_INPUT', `steps done must go from ${running.stepsDone} up to the steps in all`);
        }
        return [{ type: 'RestoreProgressed', data: { restoreId: running.restoreId, step, stepsDone, stepsTotal, at } }];
      }
      case 'CompleteRestore': {
        const running = runningOf(state);
        const outcome = command.data;
        if (running.target === 'GITLAB_PROJECT' && (outcome.projectPath === null || outcome.projectId === null)) {
          throw new DomainError('INVALID_INPUT', 'a restore into GitLab completes with the project it made');
        }
        if (running.target === 'ARCHIVE' && outcome.archiveUrl === null)
          throw new DomainError('INVALID_INPUT', 'a restore as an archive completes with its URL');
        for (const [name, value] of Object.entries({ ...outcome.counts, mergeRequestsLeftOut: outcome.leftOut.mergeRequests })) {
          if (!Number.isSafeInteger(value) || value < 0) throw new DomainError('INVALID_INPUT', `${name} must be a whole number of 0 or more`);
        }
        return [{ type: 'RestoreCompleted', data: { restoreId: running.restoreId, ...outcome } }];
      }
      case 'FailRestore': {
        const running = runningOf(state);
        const reason = command.data.reason.trim() || 'the restore failed';
        return [{ type: 'RestoreFailed', data: { restoreId: running.restoreId, ...command.data, reason: reason.slice(0, MAX_REASON) } }];
      }
      case 'AbandonRestore': {
        const running = runningOf(state);
        const { now, lastSignOfLifeAt, staleAfterMs } = command.data;
        const silentMs = Date.parse(now) - Date.parse(lastSignOfLifeAt);
        if (!(silentMs > staleAfterMs)) throw new DomainError('CONFLICT', `restore ${running.restoreId} is running`);
        const reason = `interrupted: no sign of life for ${Math.round(silentMs / 60_000)} minutes, its process is taken to be gone`;
        // A restore never removes what it made: the project, once its step is recorded, is named for someone to look at.
        const projectPath = running.stepsDone > 0 ? running.projectPath : null;
        return [{ type: 'RestoreFailed', data: { restoreId: running.restoreId, reason, projectPath, finishedAt: now } }];
      }
    }
  },
};

function runningOf(state: RestoreState): NonNullable<RestoreState['restore']> {
  if (state.restore === null) throw new DomainError('NOT_FOUND', 'no such restore');
  if (state.restore.status !== 'RUNNING') throw new DomainError('CONFLICT', `the restore is ${state.restore.status.toLowerCase()} already`);
  return state.restore;
}

export const restoreStream = (restoreId: string) => `restore-${restoreId}`;
