import { task, type RepositoryResult, type TaskCommand, type TaskEvent, type TaskSummary } from '../../src/domain/task';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(task);

const ref = { taskId: 't1', planId: 'pl1', organizationId: 'o1' };
const main = { credentialId: null, login: 'main-bot', requests: 4 };
const helper = { credentialId: 'c1', login: 'helper-1', requests: 6 };

const startTask = (overrides: { repositoriesTotal?: number; planActive?: boolean } = {}): TaskCommand => ({
  type: 'StartBackupTask',
  data: { ...ref, repositoriesTotal: overrides.repositoriesTotal ?? 2, now: '2026-03-01T10:00:00.000Z', known: { planActive: overrides.planActive ?? true } },
});
const started = (repositoriesTotal = 2): TaskEvent => ({
  type: 'BackupTaskStarted',
  data: { ...ref, repositoriesTotal, startedAt: '2026-03-01T10:00:00.000Z' },
});
const backedUp: RepositoryResult = {
  ok: true,
  repositoryId: 'r1',
  fullPath: 'acme/platform/api',
  counts: { branches: 3, tags: 1, issues: 10, mergeRequests: 4 },
  requests: 5,
  credentialsUsed: [main, { ...helper, requests: 1 }],
};
const failedResult: RepositoryResult = {
  ok: false,
  repositoryId: 'r2',
  fullPath: 'acme/platform/web',
  reason: 'GitLab answered 500',
  requests: 5,
  credentialsUsed: [helper],
};
const repositoryBackedUp: TaskEvent = {
  type: 'RepositoryBackedUp',
  data: {
    ...ref,
    repositoryId: 'r1',
    fullPath: 'acme/platform/api',
    counts: { branches: 3, tags: 1, issues: 10, mergeRequests: 4 },
    requests: 5,
    credentialsUsed: [main, { ...helper, requests: 1 }],
  },
};
const repositoryFailed: TaskEvent = {
  type: 'RepositoryBackupFailed',
  data: { ...ref, repositoryId: 'r2', fullPath: 'acme/platform/web', reason: 'GitLab answered 500', requests: 5, credentialsUsed: [helper] },
};
const record = (...results: RepositoryResult[]): TaskCommand => ({ type: 'RecordRepositoryResults', data: { results } });

const throttle: TaskCommand = { type: 'RecordTaskThrottled', data: { from: '2026-03-01T10:01:00.000Z', until: '2026-03-01T10:02:00.000Z' } };
const throttled: TaskEvent = { type: 'BackupTaskThrottled', data: { ...ref, from: '2026-03-01T10:01:00.000Z', until: '2026-03-01T10:02:00.000Z' } };
const resume: TaskCommand = { type: 'RecordTaskResumed', data: { at: '2026-03-01T10:02:00.000Z' } };
const resumed: TaskEvent = { type: 'BackupTaskResumed', data: { ...ref, at: '2026-03-01T10:02:00.000Z' } };

const summary: TaskSummary = {
  repositoriesDone: 1,
  repositoriesFailed: 1,
  durationMs: 120_000,
  credentialsUsed: [main, helper],
  throttledPeriods: [{ from: '2026-03-01T10:01:00.000Z', until: '2026-03-01T10:02:00.000Z' }],
};
const finishedAt = '2026-03-01T10:05:00.000Z';
const finish = (reason?: string): TaskCommand => ({ type: 'FinishBackupTask', data: { ...summary, now: finishedAt, ...(reason !== undefined && { reason }) } });
const completed: TaskEvent = { type: 'BackupTaskCompleted', data: { ...ref, ...summary, finishedAt } };
const failed = (reason: string): TaskEvent => ({ type: 'BackupTaskFailed', data: { ...ref, ...summary, finishedAt, reason } });

describe('task', () => {
  describe('StartBackupTask', () => {
    it('starts a run of a plan with the number of repositories it will read', () => {
      spec.given([]).when(startTask()).then([started()]);
      spec
        .given([])
        .when(startTask({ repositoriesTotal: 0 }))
        .then([started(0)]);
    });

    it('refuses a task id already used', () => {
      spec
        .given([started()])
        .when(startTask())
        .thenRefuses('CONFLICT', /task t1 already exists/);
      spec
        .given([started(), completed])
        .when(startTask())
        .thenRefuses('CONFLICT', /task t1 already exists/);
    });

    it('refuses a plan that does not exist or was deleted', () => {
      spec
        .given([])
        .when(startTask({ planActive: false }))
        .thenRefuses('NOT_FOUND', /no plan pl1/);
    });

    it.each([-1, 1.5])('refuses %p repositories', (repositoriesTotal) => {
      spec
        .given([])
        .when(startTask({ repositoriesTotal }))
        .thenRefuses('INVALID_INPUT', /repositoriesTotal must be a whole number/);
    });
  });

  describe('RecordRepositoryResults', () => {
    it('records each repository read, and each that failed, in order', () => {
      spec.given([started()]).when(record(backedUp, failedResult)).then([repositoryBackedUp, repositoryFailed]);
    });

    it('records results in several batches', () => {
      spec.given([started(), repositoryBackedUp]).when(record(failedResult)).then([repositoryFailed]);
    });

    it('records results while throttled', () => {
      spec.given([started(), throttled]).when(record(backedUp)).then([repositoryBackedUp]);
    });

    it('refuses more results than the task has repositories', () => {
      spec
        .given([started(1)])
        .when(record(backedUp, failedResult))
        .thenRefuses('CONFLICT', /task t1 has 1 repositories, not more/);
      spec
        .given([started(1), repositoryBackedUp])
        .when(record(failedResult))
        .thenRefuses('CONFLICT', /task t1 has 1 repositories/);
    });
  });

  describe('throttling', () => {
    it('records a credential GitLab made wait, the main login with no credential id', () => {
      spec
        .given([started()])
        .when({ type: 'RecordCredentialThrottled', data: { credentialId: 'c1', login: 'helper-1', until: '2026-03-01T10:02:00.000Z' } })
        .then([{ type: 'CredentialThrottled', data: { ...ref, credentialId: 'c1', login: 'helper-1', until: '2026-03-01T10:02:00.000Z' } }]);
      spec
        .given([started()])
        .when({ type: 'RecordCredentialThrottled', data: { credentialId: null, login: 'main-bot', until: '2026-03-01T10:02:00.000Z' } })
        .then([{ type: 'CredentialThrottled', data: { ...ref, credentialId: null, login: 'main-bot', until: '2026-03-01T10:02:00.000Z' } }]);
    });

    it('records the task waiting, then resuming', () => {
      spec.given([started()]).when(throttle).then([throttled]);
      spec.given([started(), throttled]).when(resume).then([resumed]);
    });

    it('writes nothing when the task already waits, or is not waiting', () => {
      spec.given([started(), throttled]).when(throttle).then([]);
      spec.given([started()]).when(resume).then([]);
      spec.given([started(), throttled, resumed]).when(resume).then([]);
    });

    it('records a second wait after resuming', () => {
      spec.given([started(), throttled, resumed]).when(throttle).then([throttled]);
    });
  });

  describe('FinishBackupTask', () => {
    it('completes with its summary', () => {
      spec.given([started(), repositoryBackedUp, repositoryFailed]).when(finish()).then([completed]);
    });

    it('fails with a reason', () => {
      spec
        .given([started()])
        .when(finish('the plan was deleted'))
        .then([failed('the plan was deleted')]);
    });

    it('resumes a waiting task before it finishes', () => {
      spec
        .given([started(), throttled])
        .when(finish())
        .then([{ ...resumed, data: { ...ref, at: finishedAt } }, completed]);
      spec
        .given([started(), throttled])
        .when(finish('stopped'))
        .then([{ ...resumed, data: { ...ref, at: finishedAt } }, failed('stopped')]);
    });
  });

  it.each<[string, TaskCommand]>([
    ['RecordRepositoryResults', record(backedUp)],
    ['RecordCredentialThrottled', { type: 'RecordCredentialThrottled', data: { credentialId: 'c1', login: 'helper-1', until: '2026-03-01T10:02:00.000Z' } }],
    ['RecordTaskThrottled', throttle],
    ['RecordTaskResumed', resume],
    ['FinishBackupTask', finish()],
  ])('refuses %s on a task that has not started, or has finished', (_name, command) => {
    spec
      .given([])
      .when(command)
      .thenRefuses('NOT_FOUND', /no such task/);
    spec
      .given([started(), completed])
      .when(command)
      .thenRefuses('CONFLICT', /task t1 has finished/);
    spec
      .given([started(), failed('stopped')])
      .when(command)
      .thenRefuses('CONFLICT', /task t1 has finished/);
  });
});

describe('AbandonBackupTask', () => {
  const abandon = (now: string, lastSignOfLifeAt = '2026-03-01T10:05:00.000Z'): TaskCommand => ({
    type: 'AbandonBackupTask',
    data: { now, lastSignOfLifeAt, staleAfterMs: 30 * 60_000 },
  });

  it('refuses while the task has shown a sign of life within the stale time', () => {
    spec
      .given([started(), repositoryBackedUp])
      .when(abandon('2026-03-01T10:35:00.000Z'))
      .thenRefuses('CONFLICT', /task t1 of this plan is running/);
  });

  it('refuses a task long silent in its stream whose process beat within the stale time', () => {
    // The stream's last word was 40 minutes ago; its process beat 2 minutes ago.
    spec
      .given([started(), repositoryBackedUp])
      .when(abandon('2026-03-01T10:45:00.000Z', '2026-03-01T10:43:00.000Z'))
      .thenRefuses('CONFLICT', /is running/);
  });

  it('refuses at exactly the stale time, and records the task a moment after', () => {
    spec
      .given([started()])
      .when(abandon('2026-03-01T10:35:00.000Z'))
      .thenRefuses('CONFLICT', /is running/);
    spec
      .given([started()])
      .when(abandon('2026-03-01T10:35:00.001Z'))
      .then([
        {
          type: 'BackupTaskFailed',
          data: {
            ...ref,
            repositoriesDone: 0,
            repositoriesFailed: 0,
            durationMs: 35 * 60_000 + 1,
            credentialsUsed: [],
            throttledPeriods: [],
            finishedAt: '2026-03-01T10:35:00.001Z',
            reason: 'interrupted: no sign of life for 30 minutes, its process is taken to be gone',
          },
        },
      ]);
  });

  it('records a silent task as failed, with what its stream counted', () => {
    spec
      .given([started(3), repositoryBackedUp, repositoryFailed])
      .when(abandon('2026-03-01T10:45:00.000Z'))
      .then([
        {
          type: 'BackupTaskFailed',
          data: {
            ...ref,
            repositoriesDone: 1,
            repositoriesFailed: 1,
            durationMs: 45 * 60_000,
            credentialsUsed: [],
            throttledPeriods: [],
            finishedAt: '2026-03-01T10:45:00.000Z',
            reason: 'interrupted: no sign of life for 40 minutes, its process is taken to be gone',
          },
        },
      ]);
  });

  it('refuses a task that has finished', () => {
    spec
      .given([started(), completed])
      .when(abandon('2026-03-01T12:00:00.000Z'))
      .thenRefuses('CONFLICT', /has finished/);
  });
});
