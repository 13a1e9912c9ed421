import type { Logger } from '../core/logger';

/**
 * Counts what the server refuses (bad bodies, bad frames, limits reached): the first of a kind
 * is told at once, the rest in one line per kind and interval, so that a client sending garbage
 * in a loop cannot fill the log. Nothing of the request itself is written.
 */
export class Refusals {
  private readonly pending = new Map<string, { count: number; timer: NodeJS.Timeout }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  count(kind: string): void {
    const entry = this.pending.get(kind);
    if (entry) entry.count += 1;
    else this.tell(kind, 1);
  }

  /** Tells what is still counted; when the server stops. */
  flush(): void {
    for (const [kind, { count, timer }] of this.pending) {
      clearTimeout(timer);
      if (count > 0) this.logger.warn('requests refused', { kind, count });
    }
    this.pending.clear();
  }

  private tell(kind: string, count: number): void {
    this.logger.warn('requests refused', { kind, count });
    const timer = setTimeout(() => this.next(kind), this.intervalMs).unref();
    this.pending.set(kind, { count: 0, timer });
  }

  private next(kind: string): void {
    const count = this.pending.get(kind)?.count ?? 0;
    this.pending.delete(kind);
    if (count > 0) this.tell(kind, count);
  }
}
