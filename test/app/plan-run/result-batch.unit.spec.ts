import { ResultBatch } from '../../../src/app/plan-run/result-batch';
import type { RepositoryResult } from '../../../src/domain/task';

const result = (n: number, ok = true): RepositoryResult => {
  const base = { repositoryId: `r${n}`, fullPath: `group/p${n}`, requests: 1, credentialsUsed: [{ credentialId: null, login: 'main', requests: 1 }] };
  return ok ? { ok, ...base, counts: { branches: 1, tags: 0, issues: 0, mergeRequests: 0 } } : { ok, ...base, reason: 'GitLab answered 500' };
};

describe('ResultBatch', () => {
  let recorded: string[][];
  let batch: ResultBatch;

  beforeEach(() => {
    jest.useFakeTimers();
    recorded = [];
    batch = new ResultBatch((results) => recorded.push(results.map((r) => r.repositoryId)), 1_000, 3);
  });

  afterEach(() => jest.useRealTimers());

  it('records a full batch at once', () => {
    [1, 2, 3, 4].forEach((n) => {
      batch.add(result(n));
    });
    expect(recorded).toEqual([['r1', 'r2', 'r3']]);
  });

  it('records a partial batch once its first result has waited the flush time, however many came since', () => {
    batch.add(result(1));
    jest.advanceTimersByTime(600);
    batch.add(result(2));
    jest.advanceTimersByTime(399);
    expect(recorded).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(recorded).toEqual([['r1', 'r2']]);
  });

  it('records what waits when flushed, and nothing more when its time comes', () => {
    batch.add(result(1));
    batch.flush();
    jest.advanceTimersByTime(5_000);
    expect(recorded).toEqual([['r1']]);
  });

  it('records nothing for nothing', () => {
    batch.flush();
    jest.advanceTimersByTime(5_000);
    expect(recorded).toEqual([]);
  });

  it('starts a new wait after a full batch', () => {
    [1, 2, 3, 4].forEach((n) => {
      batch.add(result(n));
    });
    jest.advanceTimersByTime(1_000);
    expect(recorded).toEqual([['r1', 'r2', 'r3'], ['r4']]);
  });

  it('counts the results it was given, and the failed among them', () => {
    [result(1), result(2, false), result(3), result(4, false)].forEach((r) => {
      batch.add(r);
    });
    expect({ done: batch.done, failed: batch.failed }).toEqual({ done: 4, failed: 2 });
  });
});
