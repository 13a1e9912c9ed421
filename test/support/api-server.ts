import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { loadConfig, type Config } from '../../src/config';
import type { Logger } from '../../src/core/logger';
import { reportWhileWaiting } from '../../src/core/waiting-report';
import { startService, type Service, type ServiceOptions } from '../../src/service';
import { newSchemaName, postgresAvailable } from './databases';
import { GitLabDouble } from './gitlab-double';
import { copyPgliteCluster } from './pglite-cluster';
import { testDatabaseUrl } from './postgres-url';
import { Client as PgClient } from 'pg';

export type StoreName = 'pglite' | 'postgres';

/** Every store the API suites run on: PGlite always, the PostgreSQL server when it answers (always in CI). */
export const apiStores: StoreName[] = postgresAvailable ? ['pglite', 'postgres'] : ['pglite'];

export interface GraphQLResponse<T = Record<string, any>> {
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, any> }[];
}

export interface TestApi {
  service: Service;
  /** The GitLab test double the service's organizations live on (gitlabUrl: gitlab.url). */
  gitlab: GitLabDouble;
  /** The HTTP URL of /graphql. */
  url: string;
  /** The root administrator's token of tenant "default". */
  rootToken: string;
  config: Config;
  /** A GraphQL request over real HTTP. */
  request<T = Record<string, any>>(token: string | null, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  /** Like request, but fails the test on any error and returns data. */
  ok<T = Record<string, any>>(token: string, query: string, variables?: Record<string, unknown>): Promise<T>;
  /** A graphql-ws client over a real socket; closed by close(). */
  ws(token: string | null): Client;
  close(): Promise<void>;
}

/** Where a test service keeps its data; shared by two services to run them side by side. */
export interface TestStorage {
  store: StoreName;
  dataDir: string;
  schema?: string;
  dispose(): Promise<void>;
}

export async function testStorage(store: StoreName): Promise<TestStorage> {
  const dataDir = await mkdtemp(join(tmpdir(), 'backplane-api-'));
  if (store === 'pglite') await copyPgliteCluster(dataDir);
  const schema = store === 'postgres' ? newSchemaName() : undefined;
  return {
    store,
    dataDir,
    schema,
    async dispose() {
      await rm(dataDir, { recursive: true, force: true });
      if (schema) {
        const client = new PgClient({ connectionString: testDatabaseUrl() });
        await client.connect();
        try {
          await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        } finally {
          await client.end();
        }
      }
    },
  };
}

const MASTER_KEY = randomBytes(32).toString('base64');

/**
 * A service's stop that waits long says on what (see Jobs.close); a test whose closing runs out of
 * time shows it, where the rest of what the service logs stays out of the test's output.
 */
const stopReports: Logger = {
  info: () => undefined,
  warn: (message, fields) => {
    if (message.startsWith('stopping')) process.stderr.write(`${message} ${JSON.stringify(fields)}\n`);
  },
  error: () => undefined,
};

/** A step of closing a test's service that takes over a minute is told on stderr, with its name, every minute. */
function step<T>(name: string, close: () => Promise<T>): Promise<T> {
  return reportWhileWaiting(stopReports, 'stopping: a step of closing the test service is slow', () => ({ step: name }), 60_000, close);
}

/** A Backplane service on an ephemeral port, as `npm start` runs it. */
export async function startTestApi(
  storage: TestStorage,
  options: { rootToken?: string; logger?: Logger; gitlab?: GitLabDouble; service?: Omit<ServiceOptions, 'host' | 'logger'>; env?: Record<string, string> } = {},
): Promise<TestApi> {
  const rootToken = options.rootToken ?? `bpk_test_${randomBytes(24).toString('base64url')}`;
  const config = loadConfig({
    BACKPLANE_EVENT_STORE: storage.store,
    BACKPLANE_DATA_DIR: storage.dataDir,
    ...(storage.store === 'postgres' ? { BACKPLANE_DATABASE_URL: testDatabaseUrl(), BACKPLANE_DATABASE_SCHEMA: storage.schema } : {}),
    BACKPLANE_MASTER_KEY: MASTER_KEY,
    BACKPLANE_BOOTSTRAP_TOKEN: rootToken,
    BACKPLANE_POLL_INTERVAL_MS: '20',
    PORT: '0',
    // Failing GitLab calls give up soon: tests of a GitLab that does not answer need not wait a minute.
    BACKPLANE_GITLAB_TIMEOUT_MS: '5000',
    BACKPLANE_GITLAB_RETRY_MS: '2000',
    ...options.env,
  });
  const gitlab = options.gitlab ?? (await GitLabDouble.start());
  const service = await startService(config, { host: '127.0.0.1', logger: options.logger ?? stopReports, ...options.service });
  const url = service.server.url;
  const clients: Client[] = [];

  const request = async <T>(token: string | null, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as GraphQLResponse<T>;
  };

  return {
    service,
    gitlab,
    url,
    rootToken,
    config,
    request,
    async ok<T>(token: string, query: string, variables?: Record<string, unknown>): Promise<T> {
      const response = await request<T>(token, query, variables);
      if (response.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(response.errors)}`);
      return response.data as T;
    },
    ws(token) {
      const client = createClient({
        url: url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        connectionParams: token === null ? {} : { authorization: `Bearer ${token}` },
        retryAttempts: 0,
        lazy: true,
      });
      clients.push(client);
      return client;
    },
    async close() {
      await step('the WebSocket clients', () => Promise.all(clients.map((client) => client.dispose())));
      await step('the service', () => service.close());
      if (!options.gitlab) await step('the GitLab double', () => gitlab.close());
    },
  };
}

/** Collects what a subscription delivers, for tests to wait on. */
export function listen<T = Record<string, any>>(client: Client, query: string, variables?: Record<string, unknown>) {
  const received: T[] = [];
  const errors: unknown[] = [];
  let completed = false;
  const stop = client.subscribe<T>(
    { query, variables },
    {
      next: (value) => {
        if (value.errors?.length) errors.push(...value.errors);
        if (value.data) received.push(value.data as T);
      },
      error: (error) => errors.push(error),
      complete: () => (completed = true),
    },
  );
  return {
    received,
    errors,
    get completed() {
      return completed;
    },
    stop,
  };
}
