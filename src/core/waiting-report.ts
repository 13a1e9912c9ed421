import type { Logger } from './logger';

/** How long a stage of a stop waits before it says on what, and again every as long. */
export const STOP_REPORT_MS = 10_000;

/**
 * Awaits `work`; while it runs longer than `everyMs`, logs `message` every `everyMs` with what
 * `fields` says then and how long it has waited. A stop that does not end says on what it waits.
 */
export async function reportWhileWaiting<T>(
  logger: Logger,
  message: string,
  fields: () => Record<string, unknown>,
  everyMs: number,
  work: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  const timer = setInterval(() => logger.warn(message, { ...fields(), waitedMs: Math.round(performance.now() - started) }), everyMs);
  // It reports on the wait; it is no reason of its own for the process to stay up.
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
