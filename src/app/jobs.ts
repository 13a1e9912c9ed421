import { setMaxListeners } from 'node:events';
import { loggedError, type Logger } from '../core/logger';
import { reportWhileWaiting, STOP_REPORT_MS } from '../core/waiting-report';

/** How a task ended, as the work itself tells: it records its own failures, so it says which it had. */
export type JobOutcome = 'completed' | 'failed' | 'stopped';

/** The most jobs a report names (a stop may wait for many runs at once). */
const REPORTED_JOBS = 20;

/** Told when work of a kind (a plan run, a sync) starts and ends: the metrics. */
export interface JobObserver {
  started(kind: string): void;
  /** outcome: what the job returned, else 'completed'; 'error' when it threw. */
  ended(kind: string, outcome: JobOutcome | 'error', seconds: number): void;
}

/**
 * Background work of this process: started by a mutation that answers at once, awaited when the
 * service stops. A job sees `signal` aborted at the stop and should end soon after.
 */
export class Jobs {
  /** Each running job, by the name it was started with. */
  private readonly running = new Map<Promise<void>, string>();
  private readonly stop = new AbortController();

  constructor(
    private readonly logger: Logger,
    private readonly observer?: JobObserver,
  ) {
    // Every request a job has at GitLab listens for the stop, and lets go when it ends: many at once is no leak.
    setMaxListeners(0, this.stop.signal);
  }

  get signal(): AbortSignal {
    return this.stop.signal;
  }

  /** kind: what the job is, for the metrics (plan_run, repository_sync, ...); a job without one is not counted. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a job returns nothing, or says how its task ended
  start(name: string, job: (signal: AbortSignal) => Promise<void | JobOutcome>, kind?: string): void {
    if (this.stop.signal.aborted) return;
    const started = performance.now();
    if (kind !== undefined) this.observer?.started(kind);
    const ended = (outcome: JobOutcome | 'error') => {
      if (kind !== undefined) this.observer?.ended(kind, outcome, (performance.now() - started) / 1000);
    };
    // Two handlers, not then().catch(): an observer that throws on the way out must not end the job a second time.
    const done: Promise<void> = job(this.stop.signal)
      .then(
        (outcome) => ended(outcome ?? 'completed'),
        (error: unknown) => {
          ended('error');
          // A job records its own failures where people look; this is for what escaped it.
          this.logger.error('background job failed', { job: name, error: loggedError(error) });
        },
      )
      .catch((error: unknown) => this.logger.error('job observer failed', { job: name, error: loggedError(error) }))
      .finally(() => this.running.delete(done));
    this.running.set(done, name);
  }

  /** Resolves once nothing runs; for tests and for a stop. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.keys()]);
  }

  /**
   * Tells every job to stop and waits for them. A stop that waits long says on what, and again
   * while it waits: the operator whose shutdown does not end sees which work holds it.
   */
  async close(options: { reportAfterMs?: number } = {}): Promise<void> {
    this.stop.abort();
    const running = () => {
      const jobs = [...this.running.values()];
      return { running: jobs.length, jobs: jobs.slice(0, REPORTED_JOBS) };
    };
    await reportWhileWaiting(this.logger, 'stopping: background work has not stopped yet', running, options.reportAfterMs ?? STOP_REPORT_MS, () => this.idle());
  }
}
