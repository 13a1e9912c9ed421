import { MutexTimeoutError } from './keyed-mutex';

/** A lock asked for: shared ones go together, an exclusive one goes alone. */
export interface LockRequest {
  name: string;
  shared?: boolean;
}

interface Waiter {
  shared: boolean;
  grant: () => void;
}

interface KeyState {
  sharedHolders: number;
  exclusiveHeld: boolean;
  /** In arrival order: a waiter is let in only when those before it are. */
  queue: Waiter[];
}

/**
 * Named shared/exclusive locks in this process. Holders of a name are let in in arrival order:
 * shared ones together, an exclusive one once every earlier holder is out; a shared request that
 * arrives behind a waiting exclusive one waits too, so an exclusive holder is never starved.
 * Several names are taken in the order given (callers give them in one order: no deadlock).
 */
export class KeyedLocks {
  private readonly keys = new Map<string, KeyState>();

  /** Runs fn holding every lock asked for; with a timeout, gives up when the last is not held by then. */
  async run<T>(requests: readonly LockRequest[], fn: () => Promise<T>, options: { timeoutMs?: number } = {}): Promise<T> {
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    const held: LockRequest[] = [];
    try {
      for (const request of requests) {
        const timeoutMs = deadline === undefined ? undefined : Math.max(deadline - Date.now(), 0);
        if (!(await this.acquire(request, timeoutMs))) throw new MutexTimeoutError(request.name, options.timeoutMs!);
        held.push(request);
      }
      return await fn();
    } finally {
      for (const request of held.reverse()) this.release(request);
    }
  }

  private state(name: string): KeyState {
    let state = this.keys.get(name);
    if (!state) {
      state = { sharedHolders: 0, exclusiveHeld: false, queue: [] };
      this.keys.set(name, state);
    }
    return state;
  }

  /** Answers whether the lock was taken within the time (always, without one). */
  private acquire(request: LockRequest, timeoutMs: number | undefined): Promise<boolean> {
    const state = this.state(request.name);
    const shared = request.shared === true;
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        shared,
        grant: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      state.queue.push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const index = state.queue.indexOf(waiter);
          if (index < 0) return;
          state.queue.splice(index, 1);
          resolve(false);
          // Those behind it may go now that it no longer stands in their way.
          this.letIn(request.name, state);
        }, timeoutMs);
      }
      this.letIn(request.name, state);
    });
  }

  private release(request: LockRequest): void {
    const state = this.state(request.name);
    if (request.shared) state.sharedHolders -= 1;
    else state.exclusiveHeld = false;
    this.letIn(request.name, state);
  }

  /** Lets in the waiters at the head of the queue that the holders allow; forgets a name nobody holds or wants. */
  private letIn(name: string, state: KeyState): void {
    while (state.queue.length > 0 && !state.exclusiveHeld) {
      const next = state.queue[0];
      if (!next.shared && state.sharedHolders > 0) break;
      state.queue.shift();
      if (next.shared) state.sharedHolders += 1;
      else state.exclusiveHeld = true;
      next.grant();
    }
    if (state.queue.length === 0 && state.sharedHolders === 0 && !state.exclusiveHeld) this.keys.delete(name);
  }
}
