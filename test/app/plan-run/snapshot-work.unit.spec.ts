import { GitLabError } from '../../../src/gitlab/types';
import type { GitLabSession } from '../../../src/app/gitlab-port';
import { API_AT_ONCE, type Call, SnapshotStopped, SnapshotWork } from '../../../src/app/plan-run/snapshot-work';

/**
 * The run's pool, reduced to what these tests need (test double: the pool hands a request to a
 * member's session; here every request gets the same stand-in, which answers nothing itself:
 * each test's `send` decides the answer).
 */
function poolDouble() {
  const session = {} as GitLabSession;
  let sent = 0;
  const call: Call = (send) => {
    sent += 1;
    return send(session);
  };
  return { call, sent: () => sent };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/** Lets every promise callback that can run, run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A git process as runGit behaves: it goes on until it is done or its signal is aborted. */
function gitDouble(signal: AbortSignal) {
  return new Promise<never>((_, reject) => {
    signal.addEventListener('abort', () => reject(new GitLabError('ABORTED', 'git fetch was stopped')), { once: true });
  });
}

const forbidden = () => new GitLabError('FORBIDDEN', 'GET /projects/7/issues answered 403', { status: 403 });

describe('SnapshotWork', () => {
  it('has at most API_AT_ONCE requests in flight, and sends the rest as places free up', async () => {
    const pool = poolDouble();
    const work = new SnapshotWork(pool.call);
    const answers = Array.from({ length: API_AT_ONCE * 3 }, () => deferred<number>());
    let inFlight = 0;
    let most = 0;
    const requests = answers.map((answer, index) =>
      work.call(async () => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        const value = await answer.promise;
        inFlight -= 1;
        return value + index;
      }),
    );
    await settle();
    expect(pool.sent()).toBe(API_AT_ONCE);
    for (const answer of answers) {
      answer.resolve(100);
      await settle();
    }
    expect(await Promise.all(requests)).toEqual(answers.map((_, index) => 100 + index));
    expect(pool.sent()).toBe(answers.length);
    expect(most).toBe(API_AT_ONCE);
  });

  it('stops at the first failure: the git fetch is aborted, no further page is asked for, and the failure is the answer', async () => {
    const pool = poolDouble();
    const work = new SnapshotWork(pool.call);
    const pages: number[] = [];
    const nextPage = deferred<void>();
    const listPaged = (async () => {
      for (let page = 1; page <= 50; page += 1) {
        await work.call(async () => {
          pages.push(page);
          if (page === 2) await nextPage.promise;
        });
      }
    })();
    let gitSignal: AbortSignal | null = null;
    const fetch = work.git(() => {
      gitSignal = work.signal;
      return gitDouble(work.signal);
    });
    const refused = work.call(async () => {
      throw forbidden();
    });
    const outcome = work.allDone([listPaged, fetch, refused]).then(
      () => null,
      (error: unknown) => error,
    );
    await settle();
    expect(gitSignal!.aborted).toBe(true);
    // The page in flight is answered; none after it is sent.
    nextPage.resolve();
    const error = await outcome;
    expect(error).toBeInstanceOf(GitLabError);
    expect((error as GitLabError).failure).toBe('FORBIDDEN');
    expect(pages).toEqual([1, 2]);
    await expect(work.call(async () => 1)).rejects.toBeInstanceOf(SnapshotStopped);
    await expect(work.git(async () => 1)).rejects.toBeInstanceOf(SnapshotStopped);
    expect(pool.sent()).toBe(4);
  });

  it('refuses the requests waiting for a place at once when a part fails', async () => {
    const pool = poolDouble();
    const work = new SnapshotWork(pool.call, 1);
    const first = deferred<string>();
    const inFlight = work.call(() => first.promise);
    let waitingSent = false;
    const waiting = work.call(async () => {
      waitingSent = true;
      return 'sent';
    });
    const outcome = work.allDone([inFlight, waiting, Promise.reject(forbidden())]).then(
      () => null,
      (error: unknown) => error,
    );
    await expect(waiting).rejects.toBeInstanceOf(SnapshotStopped);
    first.resolve('answered');
    expect(((await outcome) as GitLabError).failure).toBe('FORBIDDEN');
    expect(waitingSent).toBe(false);
    expect(pool.sent()).toBe(1);
  });

  it('answers every part when none fails, in order', async () => {
    const work = new SnapshotWork(poolDouble().call);
    expect(await work.allDone([work.call(async () => 'a'), work.git(async () => 2), Promise.resolve(null)])).toEqual(['a', 2, null]);
    expect(work.signal.aborted).toBe(false);
  });
});
