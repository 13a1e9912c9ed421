import { loggedError, type Logger } from '../core/logger';

/** A check run again and again until stopped; stop() waits for a check under way to end. */
export interface Repeating {
  stop(): Promise<void>;
}

/**
 * Runs `check` after `firstDelayMs`, then `everyMs` after each run ends (runs never overlap). A
 * failed run is logged with `failure` and the next one comes as planned. `stopped()` tells a
 * long check to leave off early. The timer does not keep the process alive.
 */
export function every(everyMs: number, check: (stopped: () => boolean) => Promise<void>, logger: Logger, failure: string, firstDelayMs = everyMs): Repeating {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const loop = (delayMs: number) => {
    timer = setTimeout(() => {
      running = check(() => stopped)
        .catch((error: unknown) => logger.warn(failure, { error: loggedError(error) }))
        .finally(() => {
          if (!stopped) loop(everyMs);
        });
    }, delayMs);
    timer.unref();
  };
  loop(firstDelayMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
