import { openBackplane, type Backplane } from './backplane';
import { describeStore, loadConfig } from './config';
import { jsonLogger } from './core/logger';

/**
 * `npm start`: opens the event store (embedded PGlite in ./data unless configured otherwise),
 * migrates it, and keeps every projection up to date until stopped. The GraphQL API is not
 * served yet; this process runs the store and the projections only.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = jsonLogger;
  let backplane: Backplane | undefined;
  let stopping: string | undefined;

  const close = () => {
    logger.info('stopping', { signal: stopping });
    (backplane?.close() ?? Promise.resolve()).then(
      () => process.exit(0),
      (error) => {
        logger.error('stopped with an error', { error: String(error) });
        process.exit(1);
      },
    );
  };
  // Listening before the store opens: a stop asked for during start-up waits for the store to be
  // consistent, then closes it, instead of killing it half-open.
  const onSignal = (signal: string) => {
    if (stopping) {
      // Asked twice: whatever still holds the shutdown up, stop now.
      logger.warn('stopping at once', { signal });
      process.exit(1);
    }
    stopping = signal;
    if (backplane) close();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  backplane = await openBackplane(config, { logger });
  if (stopping) return close();
  for (const runner of backplane.runners) runner.start();
  logger.info('Backplane is running: event store and projections only (the GraphQL API is not served yet)', {
    store: describeStore(config),
    projections: backplane.runners.map((runner) => runner.name),
    events: await backplane.store.countEvents(),
  });
}

main().catch((error) => {
  process.stderr.write(`backplane: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
