import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BackplaneError } from './errors';
import { splitConnectionString } from './eventstore/esdb/connection-string';
import { DEFAULT_WEBSOCKET_LIMITS, type WebSocketLimits } from './server/websocket-limits';

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
  /** The port the API listens on. */
  port: number;
  /** The master key of the password manager (base64 of 32 bytes); else a key file in dataDir. */
  masterKey?: string;
  /** The first ADMIN token of tenant "default", used when the store holds no tenant; else one is generated. */
  bootstrapToken?: string;
  /** The most one HTTP request to GitLab may take (ms). */
  gitlabTimeoutMs: number;
  /** How long failing calls to GitLab (5xx, timeouts, unreachable) are retried before they fail (ms). */
  gitlabMaxRetryMs: number;
  /** The most one git fetch or push of a repository may take (ms). */
  gitTimeoutMs: number;
  /** How often the repository-sync schedules are looked at (ms). */
  syncCheckIntervalMs: number;
  /** Repositories a plan run reads at once. */
  runConcurrency: number;
  /** Backplane's OAuth application on GitLab, for organizations with authMethod SSO; unset: SSO is refused. */
  gitlabOAuth?: { clientId: string; clientSecret: string; gitlabUrl: string };
  /** Where browsers reach this server (GitLab sends them back to <publicUrl>/oauth/gitlab/callback); unset: the server's own address. */
  publicUrl?: string;
  /** What WebSocket clients may hold: sockets, operations, unread bytes, and the time to authenticate. */
  webSocket: WebSocketLimits;
  /** The Ed25519 private key (PEM) that signs the audit log's digests; else a key file in dataDir. */
  auditSigningKey?: string;
  /** How long each scheduled digest period of the audit log is (minutes). */
  auditDigestMinutes: number;
  /** A folder where each digest is also written as a file; unset: the database only. */
  auditDigestDir?: string;
  /** The SMTP server notices are e-mailed through; unset: e-mail channels are told it is missing. */
  smtp?: { url?: string; host?: string; port?: number; user?: string; password?: string; from: string };
  /** A task held by GitLab's rate limits this long or longer is notified (minutes). */
  notifyThrottledMinutes: number;
  /** A port of its own serving GET /metrics without a token (0: any free one); unset: /metrics on the API's port, for METRICS tokens only. */
  metricsPort?: number;
  /** The address the metrics' own listener binds: this machine only unless told (BACKPLANE_METRICS_HOST). */
  metricsHost: string;
}

export class ConfigError extends BackplaneError {
  constructor(message: string) {
    super('INVALID_CONFIG', message);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const databaseUrl = env.BACKPLANE_DATABASE_URL || env.DATABASE_URL || undefined;
  const store = storeOf(env.BACKPLANE_EVENT_STORE || undefined, databaseUrl, env.BACKPLANE_ESDB_URL || undefined);
  const dataDir = resolve(env.BACKPLANE_DATA_DIR ?? 'data');
  if (!env.BACKPLANE_EVENT_STORE && databaseUrl && existsSync(join(dataDir, 'pgdata'))) {
    // A platform's DATABASE_URL must not move an embedded deployment onto an empty server unasked.
    throw new ConfigError(
      `${dataDir} holds an embedded store, and a database URL is set: set BACKPLANE_EVENT_STORE=${store} to use the server, or pglite to keep the embedded store`,
    );
  }
  if (store === 'postgres' && !databaseUrl) {
    throw new ConfigError('BACKPLANE_EVENT_STORE=postgres needs BACKPLANE_DATABASE_URL (e.g. postgres://user@host:5432/backplane)');
  }
  const esdbUrl = env.BACKPLANE_ESDB_URL || undefined;
  if (store === 'esdb' && !esdbUrl) {
    throw new ConfigError('BACKPLANE_EVENT_STORE=esdb needs BACKPLANE_ESDB_URL (e.g. esdb://eventstore:2113?tls=false)');
  }
  const pollIntervalMs = positiveInteger(env, 'BACKPLANE_POLL_INTERVAL_MS', 100);
  return {
    store,
    dataDir,
    databaseUrl,
    esdbUrl,
    databaseSchema: env.BACKPLANE_DATABASE_SCHEMA || undefined,
    pollIntervalMs,
    port: portOf(env.PORT),
    masterKey: env.BACKPLANE_MASTER_KEY || undefined,
    bootstrapToken: bootstrapTokenOf(env.BACKPLANE_BOOTSTRAP_TOKEN),
    gitlabTimeoutMs: positiveInteger(env, 'BACKPLANE_GITLAB_TIMEOUT_MS', 30_000),
    gitlabMaxRetryMs: positiveInteger(env, 'BACKPLANE_GITLAB_RETRY_MS', 60_000),
    gitTimeoutMs: positiveInteger(env, 'BACKPLANE_GIT_TIMEOUT_MS', 60 * 60_000),
    syncCheckIntervalMs: positiveInteger(env, 'BACKPLANE_SYNC_CHECK_MS', 60_000),
    runConcurrency: positiveInteger(env, 'BACKPLANE_RUN_CONCURRENCY', 8),
    gitlabOAuth: gitlabOAuthOf(env),
    publicUrl: publicUrlOf(env.BACKPLANE_PUBLIC_URL),
    webSocket: webSocketLimitsOf(env),
    auditSigningKey: env.BACKPLANE_AUDIT_SIGNING_KEY || undefined,
    auditDigestMinutes: positiveInteger(env, 'BACKPLANE_AUDIT_DIGEST_MINUTES', 60),
    auditDigestDir: env.BACKPLANE_AUDIT_DIGEST_DIR ? resolve(env.BACKPLANE_AUDIT_DIGEST_DIR) : undefined,
    smtp: smtpOf(env),
    notifyThrottledMinutes: positiveInteger(env, 'BACKPLANE_NOTIFY_THROTTLED_MINUTES', 30),
    metricsPort: metricsPortOf(env.BACKPLANE_METRICS_PORT),
    metricsHost: env.BACKPLANE_METRICS_HOST || '127.0.0.1',
  };
}

/** A URL (smtp:// or smtps://, user and password in it) or host and port; no message quotes either, they may hold the password. */
function smtpOf(env: NodeJS.ProcessEnv): Config['smtp'] {
  const url = env.BACKPLANE_SMTP_URL || undefined;
  const host = env.BACKPLANE_SMTP_HOST || undefined;
  const from = env.BACKPLANE_SMTP_FROM || 'backplane@localhost';
  if (url !== undefined) {
    if (host !== undefined) throw new ConfigError('set BACKPLANE_SMTP_URL or BACKPLANE_SMTP_HOST, not both');
    if (!/^smtps?:\/\/[^\s]+$/i.test(url)) throw new ConfigError('BACKPLANE_SMTP_URL must be an smtp:// or smtps:// URL');
    return { url, from };
  }
  if (host === undefined) {
    if (env.BACKPLANE_SMTP_USER || env.BACKPLANE_SMTP_PASSWORD)
      throw new ConfigError('BACKPLANE_SMTP_USER and BACKPLANE_SMTP_PASSWORD need BACKPLANE_SMTP_HOST');
    return undefined;
  }
  const port = positiveInteger(env, 'BACKPLANE_SMTP_PORT', 587);
  return { host, port, user: env.BACKPLANE_SMTP_USER || undefined, password: env.BACKPLANE_SMTP_PASSWORD || undefined, from };
}

function webSocketLimitsOf(env: NodeJS.ProcessEnv): WebSocketLimits {
  const limit = (name: string, key: keyof WebSocketLimits) => positiveInteger(env, `BACKPLANE_WS_${name}`, DEFAULT_WEBSOCKET_LIMITS[key]);
  return {
    initTimeoutMs: limit('INIT_TIMEOUT_MS', 'initTimeoutMs'),
    maxConnections: limit('MAX_CONNECTIONS', 'maxConnections'),
    maxWaitingPerAddress: limit('MAX_WAITING_PER_ADDRESS', 'maxWaitingPerAddress'),
    maxConnectionsPerToken: limit('MAX_CONNECTIONS_PER_TOKEN', 'maxConnectionsPerToken'),
    maxSubscriptionsPerConnection: limit('MAX_SUBSCRIPTIONS_PER_CONNECTION', 'maxSubscriptionsPerConnection'),
    maxSubscriptionsPerToken: limit('MAX_SUBSCRIPTIONS_PER_TOKEN', 'maxSubscriptionsPerToken'),
    maxBufferedBytes: limit('MAX_BUFFERED_BYTES', 'maxBufferedBytes'),
  };
}

/**
 * The store named, else the one whose address is given: a database URL alone means PostgreSQL
 * (serving from an embedded folder while the operator believes the data is on their server
 * would lose it), an EventStoreDB URL EventStoreDB, and nothing the embedded PGlite.
 */
function storeOf(named: string | undefined, databaseUrl: string | undefined, esdbUrl: string | undefined): StoreKind {
  if (named === undefined) return esdbUrl ? 'esdb' : databaseUrl ? 'postgres' : 'pglite';
  if (named !== 'pglite' && named !== 'postgres' && named !== 'esdb') {
    throw new ConfigError(`BACKPLANE_EVENT_STORE must be pglite, postgres or esdb, got ${JSON.stringify(named.slice(0, 40))}`);
  }
  return named;
}

function gitlabOAuthOf(env: NodeJS.ProcessEnv): Config['gitlabOAuth'] {
  const clientId = env.BACKPLANE_GITLAB_OAUTH_CLIENT_ID || undefined;
  const clientSecret = env.BACKPLANE_GITLAB_OAUTH_CLIENT_SECRET || undefined;
  if (clientId === undefined && clientSecret === undefined) return undefined;
  if (clientId === undefined || clientSecret === undefined) {
    throw new ConfigError(
      'BACKPLANE_GITLAB_OAUTH_CLIENT_ID and BACKPLANE_GITLAB_OAUTH_CLIENT_SECRET go together: set both (the application on GitLab) or neither',
    );
  }
  return { clientId, clientSecret, gitlabUrl: oauthGitlabUrlOf(env.BACKPLANE_GITLAB_OAUTH_URL) };
}

/** The GitLab Backplane's OAuth application is registered on; SSO is offered for organizations there only. */
function oauthGitlabUrlOf(value: string | undefined): string {
  let url: URL;
  try {
    url = new URL(value || 'https://gitlab.com');
  } catch {
    throw new ConfigError('BACKPLANE_GITLAB_OAUTH_URL must be the address of a GitLab, such as https://gitlab.example.com');
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

function publicUrlOf(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('BACKPLANE_PUBLIC_URL must be an absolute URL such as https://backplane.example.com');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash || url.username || url.password) {
    throw new ConfigError('BACKPLANE_PUBLIC_URL must be an http(s) URL without credentials, query or fragment');
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = Number(env[name] || fallback);
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${name} must be a positive integer`);
  return value;
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

function portOf(value: string | undefined): number {
  const port = Number(value ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('PORT must be a port number from 0 to 65535');
  return port;
}

function bootstrapTokenOf(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  // It is a password for the root administrator: a short one would be guessed.
  if (value.length < 24 || /\s/.test(value)) throw new ConfigError('BACKPLANE_BOOTSTRAP_TOKEN must be at least 24 characters, without spaces');
  return value;
}

function metricsPortOf(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new ConfigError('BACKPLANE_METRICS_PORT must be a port number from 0 to 65535');
  return port;
}
