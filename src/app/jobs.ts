import { setMaxListeners } from 'node:events';
import { loggedError, type Logger } from '../core/logger';

/**
 * Background work of this process: started by a mutation that answers at once, awaited when the
 * service stops. A job sees `signal` aborted at the stop and should end soon after.
 */
export class Jobs {
  private readonly running = new Set<Promise<void>>();
  private readonly stop = new AbortController();

  constructor(private readonly logger: Logger) {
    // Every request a job has at GitLab listens for the stop, and lets go when it ends: many at once is no leak.
    setMaxListeners(0, this.stop.signal);
  }

  get signal(): AbortSignal {
    return this.stop.signal;
  }

  start(name: string, job: (signal: AbortSignal) => Promise<void>): void {
    if (this.stop.signal.aborted) return;
    const done: Promise<void> = job(this.stop.signal)
      .catch((error: unknown) => {
        // A job records its own failures where people look; this is for what escaped it.
        this.logger.error('background job failed', { job: name, error: loggedError(error) });
      })
      .finally(() => this.running.delete(done));
    this.running.add(done);
  }

  /** Resolves once nothing runs; for tests and for a stop. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.idle();
  }
}
