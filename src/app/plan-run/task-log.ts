import type { CredentialUse } from '../../domain/repository';
import { task, taskStream, type TaskCommand, type TaskSummary, type ThrottledPeriod } from '../../domain/task';
import { messageOf } from '../../errors';
import { execute, write, type AppDeps, type Request } from '../deps';

/**
 * What a run records on its task's stream: every append in order, one at a time, and the end
 * after all of them. A failed append does not stop the run: the task's end says it.
 */
export class TaskLog {
  #appends: Promise<unknown> = Promise.resolve();
  #failure: unknown = null;
  readonly #periods: ThrottledPeriod[] = [];
  readonly #lastThrottle = new Map<string | null, string>();

  constructor(
    private readonly deps: AppDeps,
    private readonly request: Request,
    private readonly taskId: string,
  ) {}

  append(command: TaskCommand): void {
    this.#appends = this.#appends.then(() =>
      write(this.deps, this.request, task, taskStream(this.taskId), command).catch((error: unknown) => {
        this.#failure ??= error;
      }),
    );
  }

  credentialThrottled(who: Omit<CredentialUse, 'requests'>, until: Date): void {
    const at = until.toISOString();
    // A burst of 429s for one window is one event.
    if (this.#lastThrottle.get(who.credentialId) === at) return;
    this.#lastThrottle.set(who.credentialId, at);
    this.append({ type: 'RecordCredentialThrottled', data: { ...who, until: at } });
  }

  allThrottled(until: Date): void {
    const from = new Date().toISOString();
    this.#periods.push({ from, until: until.toISOString() });
    this.append({ type: 'RecordTaskThrottled', data: { from, until: until.toISOString() } });
  }

  resumed(): void {
    const at = new Date().toISOString();
    // The period as it was, not as the estimate had it.
    const open = this.#periods.at(-1);
    if (open) open.until = at;
    this.append({ type: 'RecordTaskResumed', data: { at } });
  }

  /** Records the end of the task, with the summary as it stands once every append before it is done. */
  async finish(summary: () => Omit<TaskSummary, 'throttledPeriods'>, reason?: string): Promise<void> {
    const finishing = this.#appends.then(() => {
      const now = new Date().toISOString();
      const open = this.#periods.at(-1);
      if (open && open.until > now) open.until = now;
      const failure = reason ?? (this.#failure !== null ? `results could not be recorded: ${messageOf(this.#failure)}` : undefined);
      return execute(this.deps, this.request, task, taskStream(this.taskId), {
        type: 'FinishBackupTask',
        data: { ...summary(), throttledPeriods: this.#periods, now, ...(failure === undefined ? {} : { reason: failure }) },
      });
    });
    // Whatever the pool still reports (a resume after the last request) comes after the end, and is refused there.
    this.#appends = finishing.catch(() => undefined);
    await finishing;
  }
}
