import { restore, type RestoreEvent, type RestoreOutcome, type RestoreStart } from '../../src/domain/restore';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(restore);

const intoProject: RestoreStart = {
  restoreId: 'rs1',
  snapshotId: 's1',
  repositoryId: 'r1',
  organizationId: 'o1',
  target: 'GITLAB_PROJECT',
  namespacePath: 'acme/restored',
  projectName: 'api',
  passwordId: 'p1',
  startedAt: '2026-03-01T10:00:00.000Z',
};
const asArchive: RestoreStart = { ...intoProject, target: 'ARCHIVE', namespacePath: null, projectName: null, passwordId: null };
const started: RestoreEvent = { type: 'RestoreStarted', data: intoProject };
const counts = { refs: 4, labels: 2, milestones: 1, issues: 3, notes: 5, releases: 1 };
const done: RestoreOutcome = {
  projectPath: 'acme/restored/api',
  projectId: 42,
  archiveUrl: null,
  counts,
  leftOut: { refs: ['refs/merge-requests/1/head'], mergeRequests: 2, wiki: false },
  finishedAt: '2026-03-01T10:01:00.000Z',
};
const progress = (stepsDone: number) => ({ step: 'issues', stepsDone, stepsTotal: 6, at: '2026-03-01T10:00:30.000Z' });

describe('a restore', () => {
  it('starts once, into a project it names with the password entry that writes it', () => {
    spec.given([]).when({ type: 'StartRestore', data: intoProject }).then([started]);
    spec
      .given([started])
      .when({ type: 'StartRestore', data: intoProject })
      .thenRefuses('CONFLICT', /already started/);
    spec
      .given([])
      .when({ type: 'StartRestore', data: { ...intoProject, passwordId: null } })
      .thenRefuses('INVALID_INPUT', /password entry/);
    spec
      .given([])
      .when({ type: 'StartRestore', data: { ...intoProject, namespacePath: ' ' } })
      .thenRefuses('INVALID_INPUT', /namespace/);
  });

  it('as an archive names no project, and completes with its URL', () => {
    spec
      .given([])
      .when({ type: 'StartRestore', data: asArchive })
      .then([{ type: 'RestoreStarted', data: asArchive }]);
    spec
      .given([])
      .when({ type: 'StartRestore', data: { ...asArchive, projectName: 'api' } })
      .thenRefuses('INVALID_INPUT', /archive/);
    const archived = { ...done, projectPath: null, projectId: null, archiveUrl: '/snapshots/s1/archive' };
    spec
      .given([{ type: 'RestoreStarted', data: asArchive }])
      .when({ type: 'CompleteRestore', data: archived })
      .then([{ type: 'RestoreCompleted', data: { restoreId: 'rs1', ...archived } }]);
    spec
      .given([{ type: 'RestoreStarted', data: asArchive }])
      .when({ type: 'CompleteRestore', data: { ...archived, archiveUrl: null } })
      .thenRefuses('INVALID_INPUT', /URL/);
  });

  it('records its progress forward only, within its steps', () => {
    spec
      .given([started])
      .when({ type: 'RecordRestoreProgress', data: progress(2) })
      .then([{ type: 'RestoreProgressed', data: { restoreId: 'rs1', ...progress(2) } }]);
    const atTwo: RestoreEvent = { type: 'RestoreProgressed', data: { restoreId: 'rs1', ...progress(2) } };
    spec
      .given([started, atTwo])
      .when({ type: 'RecordRestoreProgress', data: progress(1) })
      .thenRefuses('INVALID_INPUT', /from 2/);
    spec
      .given([started])
      .when({ type: 'RecordRestoreProgress', data: progress(7) })
      .thenRefuses('INVALID_INPUT');
    spec
      .given([])
      .when({ type: 'RecordRestoreProgress', data: progress(1) })
      .thenRefuses('NOT_FOUND');
  });

  it('completes with the project it made, what it re-created and what it left out', () => {
    spec
      .given([started])
      .when({ type: 'CompleteRestore', data: done })
      .then([{ type: 'RestoreCompleted', data: { restoreId: 'rs1', ...done } }]);
    spec
      .given([started])
      .when({ type: 'CompleteRestore', data: { ...done, projectId: null } })
      .thenRefuses('INVALID_INPUT', /project it made/);
    spec
      .given([started])
      .when({ type: 'CompleteRestore', data: { ...done, counts: { ...counts, issues: -1 } } })
      .thenRefuses('INVALID_INPUT', /issues/);
  });

  it('fails with a reason and the project it had made, and ends once', () => {
    const failed = { reason: 'GitLab refused the push', projectPath: 'acme/restored/api', finishedAt: '2026-03-01T10:01:00.000Z' };
    spec
      .given([started])
      .when({ type: 'FailRestore', data: failed })
      .then([{ type: 'RestoreFailed', data: { restoreId: 'rs1', ...failed } }]);
    const ended: RestoreEvent = { type: 'RestoreFailed', data: { restoreId: 'rs1', ...failed } };
    spec
      .given([started, ended])
      .when({ type: 'CompleteRestore', data: done })
      .thenRefuses('CONFLICT', /failed already/);
    spec
      .given([started, { type: 'RestoreCompleted', data: { restoreId: 'rs1', ...done } }])
      .when({ type: 'FailRestore', data: failed })
      .thenRefuses('CONFLICT', /completed already/);
    spec
      .given([started])
      .when({ type: 'FailRestore', data: { ...failed, reason: 'x'.repeat(5000) } })
      .then([{ type: 'RestoreFailed', data: { restoreId: 'rs1', ...failed, reason: 'x'.repeat(1000) } }]);
  });

  it('is taken for gone only once silent for longer than the stale time, naming the project it made', () => {
    const abandon = (lastSignOfLifeAt: string) => ({
      type: 'AbandonRestore' as const,
      data: { now: '2026-03-01T10:30:00.000Z', lastSignOfLifeAt, staleAfterMs: 10 * 60_000 },
    });
    const reason = 'interrupted: no sign of life for 20 minutes, its process is taken to be gone';
    spec
      .given([started])
      .when(abandon('2026-03-01T10:25:00.000Z'))
      .thenRefuses('CONFLICT', /is running/);
    spec
      .given([started])
      .when(abandon('2026-03-01T10:10:00.000Z'))
      .then([{ type: 'RestoreFailed', data: { restoreId: 'rs1', reason, projectPath: null, finishedAt: '2026-03-01T10:30:00.000Z' } }]);
    spec
      .given([started, { type: 'RestoreProgressed', data: { restoreId: 'rs1', ...progress(1), step: 'project' } }])
      .when(abandon('2026-03-01T10:10:00.000Z'))
      .then([{ type: 'RestoreFailed', data: { restoreId: 'rs1', reason, projectPath: 'acme/restored/api', finishedAt: '2026-03-01T10:30:00.000Z' } }]);
    spec
      .given([started, { type: 'RestoreCompleted', data: { restoreId: 'rs1', ...done } }])
      .when(abandon('2026-03-01T10:10:00.000Z'))
      .thenRefuses('CONFLICT', /completed already/);
  });
});
