import type { GitLabSession } from '../gitlab-port';

/** Sends one request with whichever member the run hands it. */
export type Call = <T>(send: (session: GitLabSession) => Promise<T>) => Promise<T>;

/**
 * API requests of one snapshot in flight at once. A run takes several snapshots side by side,
 * and the pool gives a member unlimited room when GitLab sends no RateLimit headers: the cap
 * is here, so that one repository's lists and notes cannot flood GitLab.
 */
export const API_AT_ONCE = 4;

/** Thrown to the parts of a snapshot still going when another part failed; never the snapshot's own outcome. */
export class SnapshotStopped extends Error {
  constructor() {
    super('another part of the snapshot failed');
  }
}

/**
 * The overlapped work of one snapshot: its API requests, at most `limit` in flight, and its git
 * fetches, all stopped at the first failure. A 403 on one list does not wait for a clone of the
 * repository or for every other page before the snapshot is answered as failed.
 */
export class SnapshotWork {
  readonly #stop = new AbortController();
  #failure: { error: unknown } | null = null;
  #inFlight = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(
    private readonly send: Call,
    private readonly limit = API_AT_ONCE,
  ) {}

  /** Aborted at the snapshot's first failure: git processes started for it are stopped. */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  /** One API request, once a place among the snapshot's requests in flight is free; refused after a failure. */
  async call<T>(send: (session: GitLabSession) => Promise<T>): Promise<T> {
    await this.#slot();
    try {
      return await this.send(send);
    } finally {
      this.#inFlight -= 1;
      this.#waiting.shift()?.();
    }
  }

  /** A git fetch: outside the API limit (a clone can take many minutes); refused after a failure, stopped by `signal`. */
  async git<T>(send: (session: GitLabSession) => Promise<T>): Promise<T> {
    this.check();
    return this.send(send);
  }

  /** Throws when another part of the snapshot has failed: what would come next is not done. */
  check(): void {
    if (this.#failure !== null) throw new SnapshotStopped();
  }

  /**
   * Every piece of work ended, then the snapshot's first failure if any of them failed: the
   * first failure stops the others (requests not sent, git killed), and no request or git
   * process of the snapshot goes on after its attempt has been answered (and counted) as failed.
   */
  async allDone<T extends readonly unknown[]>(work: readonly [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
    const settled = await Promise.allSettled(
      work.map((part) =>
        Promise.resolve(part).catch((error: unknown) => {
          this.#fail(error);
          throw error;
        }),
      ),
    );
    if (settled.some((outcome) => outcome.status === 'rejected')) throw this.#failure!.error;
    return settled.map((outcome) => (outcome as PromiseFulfilledResult<unknown>).value) as unknown as T;
  }

  #fail(error: unknown): void {
    if (this.#failure !== null) return;
    this.#failure = { error };
    this.#stop.abort();
    // Requests waiting for a place are refused now rather than when one ends.
    for (const wake of this.#waiting.splice(0)) wake();
  }

  async #slot(): Promise<void> {
    for (;;) {
      this.check();
      if (this.#inFlight < this.limit) break;
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#inFlight += 1;
  }
}
