import type { RepositoryResult } from '../../domain/task';

/** Results recorded together at most. */
const MAX_BATCH = 100;

/**
 * A run's repository results, handed to `record` together: a full batch at once, a partial one
 * once its first result has waited `flushMs`. Each result is one event's worth of the task's
 * stream: a run of thousands of repositories appends tens of events, not thousands.
 */
export class ResultBatch {
  #pending: RepositoryResult[] = [];
  #timer: NodeJS.Timeout | null = null;
  #done = 0;
  #failed = 0;

  constructor(
    private readonly record: (results: RepositoryResult[]) => void,
    private readonly flushMs: number,
    private readonly maxBatch = MAX_BATCH,
  ) {}

  get done(): number {
    return this.#done;
  }

  get failed(): number {
    return this.#failed;
  }

  add(result: RepositoryResult): void {
    this.#done += 1;
    if (!result.ok) this.#failed += 1;
    this.#pending.push(result);
    if (this.#pending.length >= this.maxBatch) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /** Hands over whatever waits, at once. */
  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#pending.length === 0) return;
    const results = this.#pending;
    this.#pending = [];
    this.record(results);
  }
}
