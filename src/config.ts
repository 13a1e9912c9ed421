import { resolve } from 'node:path';
import { BackplaneError } from './errors';

export type StoreKind = 'pglite' | 'postgres';

export interface Config {
  store: StoreKind;
  /** The embedded store's folder (pglite). */
  dataDir: string;
  /** The PostgreSQL server (postgres). */
  databaseUrl?: string;
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
  if (store !== 'pglite' && store !== 'postgres') {
    throw new ConfigError(`BACKPLANE_EVENT_STORE must be pglite or postgres, got ${JSON.stringify(store)}`);
  }
  const databaseUrl = env.BACKPLANE_DATABASE_URL ?? env.DATABASE_URL;
  if (store === 'postgres' && !databaseUrl) {
    throw new ConfigError('BACKPLANE_EVENT_STORE=postgres needs BACKPLANE_DATABASE_URL (e.g. postgres://user@host:5432/backplane)');
  }
  const pollIntervalMs = Number(env.BACKPLANE_POLL_INTERVAL_MS ?? 100);
  if (!Number.isInteger(pollIntervalMs) || pollIntervalMs < 1) {
    throw new ConfigError('BACKPLANE_POLL_INTERVAL_MS must be a positive integer');
  }
  return {
    store,
    dataDir: resolve(env.BACKPLANE_DATA_DIR ?? 'data'),
    databaseUrl,
    databaseSchema: env.BACKPLANE_DATABASE_SCHEMA || undefined,
    pollIntervalMs,
  };
}

/** The database's address without its password, for messages. */
export function describeStore(config: Config): string {
  if (config.store === 'pglite') return `embedded PGlite in ${config.dataDir}`;
  const schema = config.databaseSchema ? ` (schema ${config.databaseSchema})` : '';
  try {
    const url = new URL(config.databaseUrl!);
    return `PostgreSQL at ${url.host}${url.pathname}${schema}`;
  } catch {
    // A connection string pg accepts but URL does not (a socket path): say nothing of its parts.
    return `PostgreSQL${schema}`;
  }
}
