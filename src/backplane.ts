import { projections as allProjections } from '../projections';
import type { Config } from './config';
import { CommandHandler } from './core/command-handler';
import { silentLogger, type Logger } from './core/logger';
import type { Projection } from './core/projection';
import { ProjectionRunner } from './core/projection-runner';
import { migrateCheckpoints } from './core/checkpoints';
import { inlineProjectionHook } from './core/inline-projection';
import { SqlEventStore } from './eventstore/postgres/sql-event-store';
import { countAppends } from './metrics/appends';
import type { Metrics } from './metrics/metrics';
import type { EventStore } from './eventstore/types';
import type { SqlDatabase } from './sql/database';
import { PgDatabase } from './sql/pg-database';
import { PgliteDatabase } from './sql/pglite-database';

/** The event store as the operator commands use it. */
export type BackplaneStore = EventStore & {
  countEvents(): Promise<number>;
};

/** The running parts, wired. The composition root: the one place that knows which store runs. */
export interface Backplane {
  /** Where the read models and projection checkpoints live (and the events too, unless on EventStoreDB). */
  db: SqlDatabase;
  store: BackplaneStore;
  commands: CommandHandler;
  runners: ProjectionRunner[];
  runner(name: string): ProjectionRunner;
  close(): Promise<void>;
}

export interface OpenOptions {
  logger?: Logger;
  projections?: readonly Projection[];
  /** Where appends are counted and projections' lag reported. */
  metrics?: Metrics;
}

export async function openDatabase(config: Config): Promise<SqlDatabase> {
  if (config.store === 'pglite' || (config.store === 'esdb' && !config.databaseUrl)) return PgliteDatabase.open(config.dataDir);
  return PgDatabase.connect({ connectionString: config.databaseUrl!, schema: config.databaseSchema });
}

/**
 * EventStoreDB's adapter, loaded when it is the store: its client and gRPC take about 20 MB of the
 * process, which the embedded default's small machine has no use for.
 */
function esdbStore(): typeof import('./eventstore/esdb/esdb-event-store').EsdbEventStore {
  return (require('./eventstore/esdb/esdb-event-store') as typeof import('./eventstore/esdb/esdb-event-store')).EsdbEventStore;
}

/** Opens the store (creating or migrating its schema) and prepares, but does not start, the projections. */
export async function openBackplane(config: Config, options: OpenOptions = {}): Promise<Backplane> {
  const logger = options.logger ?? silentLogger;
  const db = await openDatabase(config);
  try {
    const projections = options.projections ?? allProjections;
    let store: BackplaneStore;
    let inlineLog: SqlEventStore | undefined;
    if (config.store === 'esdb') {
      // The log lives elsewhere: every read model is applied by its runner, and answers wait for it.
      store = esdbStore().connect(config.esdbUrl!, { tailPollMs: config.pollIntervalMs });
    } else {
      const inlined = projections.filter((projection) => projection.inline);
      if (inlined.length > 1) throw new Error(`one projection at most may be kept inline; given ${inlined.map((projection) => projection.name).join(', ')}`);
      // The appends read the checkpoints to know whether they keep the read model.
      await migrateCheckpoints(db);
      inlineLog = await SqlEventStore.open(db, {
        pollIntervalMs: config.pollIntervalMs,
        appendHook: inlined.length === 1 ? inlineProjectionHook(inlined[0]) : undefined,
      });
      store = inlineLog;
    }
    const runners = projections.map(
      (projection) =>
        new ProjectionRunner({ store, db, projection, logger, inline: projection.inline ? inlineLog : undefined, logInDatabase: inlineLog !== undefined }),
    );
    options.metrics?.watchProjections(() => ({ store, runners }));
    return {
      db,
      store,
      commands: new CommandHandler(options.metrics ? countAppends(store, options.metrics) : store),
      runners,
      runner(name) {
        const found = runners.find((runner) => runner.name === name);
        if (!found) throw new Error(`no projection named ${name}; known: ${runners.map((r) => r.name).join(', ')}`);
        return found;
      },
      async close() {
        await Promise.all(runners.map((runner) => runner.stop()));
        await store.close();
        await db.close();
      },
    };
  } catch (error) {
    await db.close();
    throw error;
  }
}
