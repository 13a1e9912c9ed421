/**
 * Runs `check` so that a caller of fresh() resumes only after a check that started after its
 * call. Callers share the check that has not started yet: however many requests wait, at most
 * one check runs and one more waits to start, no sooner than `spacingMs` after the last start.
 * Waiting for a later start keeps the promise (the check still starts after the call), and
 * bounds what checks cost the event store when requests come thick and fast.
 */
export class FreshCheck {
  #pending: Promise<void> | null = null;
  #running: Promise<void> | null = null;
  #lastStart = 0;

  constructor(
    private readonly check: () => Promise<void>,
    private readonly spacingMs: number,
  ) {}

  fresh(): Promise<void> {
    this.#pending ??= this.#schedule();
    return this.#pending;
  }

  async #schedule(): Promise<void> {
    await this.#running?.catch(() => undefined);
    // A timer counts from the event loop's own reading of the clock, taken when its turn began: on
    // a busy loop it fires early by the clock, so the wait is measured again until it is over.
    const left = () => this.#lastStart + this.spacingMs - Date.now();
    while (left() > 0) await new Promise((resolve) => setTimeout(resolve, left()));
    // From here on a caller needs a check that starts later than this one.
    this.#pending = null;
    this.#lastStart = Date.now();
    const running = this.check();
    this.#running = running;
    try {
      await running;
    } finally {
      if (this.#running === running) this.#running = null;
    }
  }
}
