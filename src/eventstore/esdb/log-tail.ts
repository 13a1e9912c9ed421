import { compareEsdbPositions, type EsdbPosition } from './position';

/**
 * Where $all ends, looked up every `pollMs` while someone watches: one read of the last record
 * per store, however many subscriptions are open. A subscription filtered on the server hears
 * nothing of records its filter drops, so this is how it learns that the log moved past it.
 */
export class LogTail {
  private head: EsdbPosition | null = null;
  private readonly listeners = new Set<(head: EsdbPosition) => void>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    /** The position of the last record of $all, whatever its stream, or null when it is empty. */
    private readonly readLast: () => Promise<EsdbPosition | null>,
    private readonly pollMs: number,
  ) {}

  /** Calls the listener with each new end of $all; returns the unwatch. */
  watch(listener: (head: EsdbPosition) => void): () => void {
    this.listeners.add(listener);
    this.schedule();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
    };
  }

  private schedule(): void {
    if (this.timer !== undefined || this.polling || this.listeners.size === 0) return;
    this.timer = setTimeout(() => void this.poll(), this.pollMs);
    // A watch left open must not keep the process alive.
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    this.timer = undefined;
    this.polling = true;
    try {
      const last = await this.readLast();
      if (last && (this.head === null || compareEsdbPositions(last, this.head) > 0)) {
        this.head = last;
        for (const listener of this.listeners) listener(last);
      }
    } catch {
      // Unreachable for now: each subscription meets the failure on its own stream and reports it.
    } finally {
      this.polling = false;
      this.schedule();
    }
  }
}
