import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';

/** Subscribers whose result is handed on in one turn of the event loop, before others wait for the next. */
export const FAN_OUT_SLICE = 100;

type Outcome = ExecutionResult | Promise<ExecutionResult>;

/**
 * What subscribers share a result by: their `view` (the same operation, variables and what the
 * principal may see), and the context the shared execution runs with, made of that view alone:
 * nothing of the subscriber whose event happened to be executed first.
 */
export interface SharedView {
  view: string;
  context: () => unknown;
}

/**
 * Hands the subscribers of an event their turns, `slice` at a time per turn of the event loop: a
 * thousand subscribers of one event do not hold a request that came meanwhile (the mutation's own
 * answer among them) for the whole burst, only for a slice of it. Turns go in the order asked.
 */
export class Turns {
  #taken = 0;
  readonly #waiting: (() => void)[] = [];
  #next: NodeJS.Immediate | null = null;

  constructor(private readonly slice = FAN_OUT_SLICE) {}

  /** null: the caller goes on now; otherwise its turn comes when the promise resolves. */
  take(): Promise<void> | null {
    this.#schedule();
    if (this.#waiting.length === 0 && this.#taken < this.slice) {
      this.#taken += 1;
      return null;
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #schedule(): void {
    this.#next ??= setImmediate(() => this.#turn());
  }

  #turn(): void {
    this.#next = null;
    const now = this.#waiting.splice(0, this.slice);
    this.#taken = now.length;
    if (now.length > 0) this.#schedule();
    for (const go of now) go();
  }
}

/**
 * How subscriptions' results are made: the selection of a subscription is executed once per event
 * for all subscribers whose `view` is the same (the same operation, variables and what the
 * principal may see), and that one result handed to each of them. Which events a subscriber gets
 * stays its own: its feed filters and authorizes them before they come here. An event is known by
 * its identity (the feeds hand every subscriber the same object for one event); an item made for
 * one subscriber alone is executed for it alone.
 */
export class SubscriptionFanOut {
  readonly #results = new WeakMap<object, Map<string, Outcome>>();

  constructor(
    private readonly turns: Turns = new Turns(),
    /** Told of each result handed to a subscriber: whether it was shared with one executed for another. */
    private readonly counted: (shared: boolean) => void = () => undefined,
  ) {}

  /**
   * As graphql-js's subscribe, but with each event's result shared among subscribers of one view
   * (null: shared with none, and executed with the subscriber's own context). The feed is still
   * made with the subscriber's own context: which events it gets, and whether it may, are its own.
   */
  async subscribe(args: ExecutionArgs, shared: SharedView | null): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const source = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in source)) return source;
    return mapped(source[Symbol.asyncIterator](), (event) => {
      const turn = this.turns.take();
      return turn ? turn.then(() => this.#result(args, event, shared)) : this.#result(args, event, shared);
    });
  }

  #result(args: ExecutionArgs, event: unknown, shared: SharedView | null): Outcome {
    if (shared === null || event === null || typeof event !== 'object') {
      this.counted(false);
      return execute({ ...args, rootValue: event });
    }
    const { view } = shared;
    let byView = this.#results.get(event);
    if (!byView) {
      byView = new Map();
      this.#results.set(event, byView);
    }
    const known = byView.get(view);
    if (known) {
      this.counted(true);
      return known;
    }
    const outcome = execute({ ...args, contextValue: shared.context(), rootValue: event });
    byView.set(view, outcome);
    this.counted(false);
    return outcome;
  }
}

/**
 * The source's items through `map`. Returning ends the source at once, even while a next() waits
 * on it (as graphql-js's own mapping does: an async generator would wait for the next event). Once
 * returned or thrown into, a next() still waiting (on the source or on its turn) and any later one
 * answer done: graphql-ws sends what next() gives without asking whether the client completed, so
 * a value given after that would be a Next frame after the Complete.
 */
function mapped<T>(source: AsyncIterator<unknown>, map: (item: unknown) => T | Promise<T>): AsyncIterableIterator<T> {
  let ended = false;
  const done: IteratorResult<T> = { value: undefined, done: true };
  const mapResult = async (result: IteratorResult<unknown>): Promise<IteratorResult<T>> => {
    if (ended || result.done) return done;
    try {
      const value = await map(result.value);
      return ended ? done : { value, done: false };
    } catch (error) {
      if (ended) return done;
      await source.return?.().catch(() => undefined);
      throw error;
    }
  };
  const iterator: AsyncIterableIterator<T> = {
    next: async () => (ended ? done : mapResult(await source.next())),
    return: async () => {
      ended = true;
      if (source.return) await source.return();
      return done;
    },
    throw: async (error?: unknown) => {
      ended = true;
      if (source.throw) await source.throw(error);
      else throw error;
      return done;
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
