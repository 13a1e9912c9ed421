import { loggedError, type Logger } from '../core/logger';
import { writeDueDigests, type DigestDeps } from './audit-digests';

/**
 * Looks every `everyMs` (at most once a minute) for tenants whose digest period is over and
 * writes their digests. Every process runs one; writeDueDigests takes a lock on the database and
 * looks again under it, so a period gets one digest however many processes look.
 */
export function startAuditDigestScheduler(deps: DigestDeps, logger: Logger, everyMs: number): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<unknown> = Promise.resolve();
  const loop = () => {
    timer = setTimeout(
      () => {
        running = writeDueDigests(deps)
          .catch((error: unknown) => logger.warn('audit digests were not written', { error: loggedError(error) }))
          .finally(() => {
            if (!stopped) loop();
          });
      },
      Math.min(everyMs, 60_000),
    );
  };
  loop();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      // A run under way finishes before the database closes under it.
      await running;
    },
  };
}
