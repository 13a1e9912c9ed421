import { resolve } from 'node:path';
import { BackplaneError } from './errors';
import { splitConnectionString } from './eventstore/esdb/connection-string';

export type StoreKind = 'pglite' | 'postgres' | 'esdb';

export interface Config {
  store: StoreKind;
  /** The embedded store's folder (pglite). */
  dataDir: string;
  /** The PostgreSQL server (postgres; for esdb, where the read models live, else PGlite in dataDir). */
  databaseUrl?: string;
  /** The EventStoreDB connection string (esdb). */
  esdbUrl?: string;
  /** The schema Backplane's tables live in on the server; the connection's default when unset. */
  databaseSchema?: string;
  /** How often live subscriptions look for events written by other processes (ms). */
  pollIntervalMs: number;
}

export class ConfigError extends BackplaneError {
  constructor(message: string) {
    super('INVALID_CONFIG', message);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const store = (env.BACKPLANE_EVENT_STORE ?? 'pglite') as StoreKind;
  if (store !== 'pglite' && store !== 'postgres' && store !== 'esdb') {
    throw new ConfigError(`BACKPLANE_EVENT_STORE must be pglite, postgres or esdb, got ${JSON.stringify(store)}`);
  }
  const databaseUrl = env.BACKPLANE_DATABASE_URL ?? env.DATABASE_URL;
  if (store === 'postgres' && !databaseUrl) {
    throw new ConfigError('BACKPLANE_EVENT_STORE=postgres needs BACKPLANE_DATABASE_URL (e.g. postgres://user@host:5432/backplane)');
  }
  const esdbUrl = env.BACKPLANE_ESDB_URL || undefined;
  if (store === 'esdb' && !esdbUrl) {
    throw new ConfigError('BACKPLANE_EVENT_STORE=esdb needs BACKPLANE_ESDB_URL (e.g. esdb://eventstore:2113?tls=false)');
  }
  const pollIntervalMs = Number(env.BACKPLANE_POLL_INTERVAL_MS ?? 100);
  if (!Number.isInteger(pollIntervalMs) || pollIntervalMs < 1) {
    throw new ConfigError('BACKPLANE_POLL_INTERVAL_MS must be a positive integer');
  }
  return {
    store,
    dataDir: resolve(env.BACKPLANE_DATA_DIR ?? 'data'),
    databaseUrl,
    esdbUrl,
    databaseSchema: env.BACKPLANE_DATABASE_SCHEMA || undefined,
    pollIntervalMs,
  };
}

/** The database's address without its password, for messages. */
export function describeStore(config: Config): string {
  if (config.store === 'esdb') return describeEsdb(config);
  return describeDatabase(config);
}

/** EventStoreDB's hosts, and where the read models live. */
function describeEsdb(config: Config): string {
  let hosts = 'the configured hosts';
  try {
    hosts = splitConnectionString(config.esdbUrl!).hosts;
  } catch {
    // An invalid string is reported when the store opens; here nothing of it is shown.
  }
  return `EventStoreDB at ${hosts}, read models in ${describeDatabase(config)}`;
}

function describeDatabase(config: Config): string {
  if (config.store === 'pglite' || (config.store === 'esdb' && !config.databaseUrl)) return `embedded PGlite in ${config.dataDir}`;
  const schema = config.databaseSchema ? ` (schema ${config.databaseSchema})` : '';
  try {
    const url = new URL(config.databaseUrl!);
    return `PostgreSQL at ${url.host}${url.pathname}${schema}`;
  } catch {
    // A connection string pg accepts but URL does not (a socket path): say nothing of its parts.
    return `PostgreSQL${schema}`;
  }
}
