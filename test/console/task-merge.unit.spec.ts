import type { Task, TaskDetail } from '../../src/console/documents';
import { mergedTask } from '../../src/console/task-merge';

const actor = { id: 'admin', name: 'Admin', role: 'ADMIN' };

function read(overrides: Partial<TaskDetail> = {}): TaskDetail {
  return {
    id: 'task-1',
    status: 'RUNNING',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: null,
    reason: null,
    repositoriesTotal: 4,
    repositoriesDone: 2,
    repositoriesFailed: 0,
    bytesWritten: 200,
    startedBy: actor,
    credentialsUsed: [{ login: 'bot', requests: 3, credential: { id: 'credential-1', login: 'bot', status: 'ACTIVE' } }],
    throttledPeriods: [],
    plan: { id: 'plan-1', name: 'nightly' },
    snapshots: { edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 0 },
    ...overrides,
  };
}

function message(overrides: Partial<Task> = {}): Task {
  const { plan: _plan, snapshots: _snapshots, ...task } = read();
  return { ...task, credentialsUsed: [{ login: 'bot', requests: 3 }], ...overrides };
}

describe("the task page's merge of its last read and the last taskProgress message", () => {
  it('shows the read alone until a message comes', () => {
    const loaded = read();
    expect(mergedTask(loaded, null)).toBe(loaded);
  });

  it('takes a message that has read as many repositories or more, keeping what only a read gives', () => {
    const loaded = read();
    expect(mergedTask(loaded, message({ repositoriesDone: 2, status: 'THROTTLED' }))).toMatchObject({
      status: 'THROTTLED',
      plan: loaded.plan,
      credentialsUsed: loaded.credentialsUsed,
    });
    expect(mergedTask(loaded, message({ repositoriesDone: 3, bytesWritten: 300 }))).toMatchObject({
      repositoriesDone: 3,
      bytesWritten: 300,
      snapshots: loaded.snapshots,
    });
  });

  it('keeps a newer read over a message sent before it', () => {
    const loaded = read({ repositoriesDone: 3, bytesWritten: 300 });
    expect(mergedTask(loaded, message({ repositoriesDone: 2, status: 'THROTTLED' }))).toBe(loaded);
  });

  it('keeps a read that saw the task end over any message', () => {
    const loaded = read({ status: 'COMPLETED', repositoriesDone: 4, finishedAt: '2026-01-01T00:05:00.000Z' });
    expect(mergedTask(loaded, message({ repositoriesDone: 4, status: 'RUNNING' }))).toBe(loaded);
    expect(mergedTask(loaded, message({ repositoriesDone: 4, status: 'COMPLETED', finishedAt: '2026-01-01T00:05:00.000Z' }))).toBe(loaded);
  });

  it("takes a message that says the task ended with its accounts' counts, until a read brings their credentials", () => {
    const loaded = read();
    const last = message({ status: 'COMPLETED', repositoriesDone: 4, credentialsUsed: [{ login: 'bot', requests: 9 }] });
    expect(mergedTask(loaded, last)).toMatchObject({ status: 'COMPLETED', credentialsUsed: [{ login: 'bot', requests: 9 }] });
  });
});
