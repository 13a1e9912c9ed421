import { describeStore, loadConfig } from './config';
import { jsonLogger, loggedError } from './core/logger';
import { startService, type Service } from './service';

/**
 * `npm start`: opens the event store (embedded PGlite in ./data unless configured otherwise),
 * keeps every read model up to date, and serves the GraphQL API until stopped.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = jsonLogger;
  let service: Service | undefined;
  let stopping: string | undefined;

  const close = () => {
    logger.info('stopping', { signal: stopping });
    (service?.close() ?? Promise.resolve()).then(
      () => process.exit(0),
      (error) => {
        logger.error('stopped with an error', { error: loggedError(error) });
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
    if (service) close();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  logger.info('opening the store', { store: describeStore(config) });
  service = await startService(config, { logger });
  if (stopping) return close();
  if (service.generatedRootToken !== null) {
    // Shown once, on the terminal only: it is kept nowhere but as a digest.
    process.stdout.write(
      `\nTenant "default" was created. Its root administrator's API token (shown this once, store it now):\n\n  ${service.generatedRootToken}\n\n` +
        'Send it as "Authorization: Bearer <token>". Set BACKPLANE_BOOTSTRAP_TOKEN to choose it instead.\n\n',
    );
  } else if (service.bootstrapped) {
    logger.info('tenant "default" created; its root administrator token is BACKPLANE_BOOTSTRAP_TOKEN');
  }
  logger.info('Backplane is serving', {
    url: service.server.url,
    store: describeStore(config),
    projections: service.backplane.runners.map((runner) => runner.name),
  });
  process.stdout.write(`Backplane GraphQL API: ${service.server.url}\nData: ${describeStore(config)}\n`);
}

main().catch((error) => {
  process.stderr.write(`backplane: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
