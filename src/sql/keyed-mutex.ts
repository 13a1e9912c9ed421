/** Waiting for a key took longer than the caller allows. */
export class MutexTimeoutError extends Error {
  constructor(key: string, timeoutMs: number) {
    super(`waited over ${timeoutMs} ms for ${key}`);
    this.name = 'MutexTimeoutError';
  }
}

/** One holder per key at a time, in arrival order; keys with no holder cost nothing. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs fn once every earlier holder of the key is done; with a timeout, gives up its turn when they take longer. */
  async run<T>(key: string, fn: () => Promise<T>, options: { timeoutMs?: number } = {}): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    const done = () => {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
    if (!(await turnWithin(previous, options.timeoutMs))) {
      // Those after it still wait for those before it: the turn is passed on when it comes.
      void previous.then(done);
      throw new MutexTimeoutError(key, options.timeoutMs!);
    }
    try {
      return await fn();
    } finally {
      done();
    }
  }
}

/** Whether `previous` settles within the time (always, without one). */
async function turnWithin(previous: Promise<void>, timeoutMs: number | undefined): Promise<boolean> {
  if (timeoutMs === undefined) {
    await previous;
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([previous.then(() => true as const), expired]);
  } finally {
    clearTimeout(timer);
  }
}
