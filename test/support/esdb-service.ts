import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { startService, type Service, type ServiceOptions } from '../../src/service';
import { EsdbDouble } from './esdb-double/server';

export interface GraphQLAnswer {
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** A Backplane service with its log on EventStoreDB's test double (read models on PGlite), and its root token. */
export interface EsdbService {
  double: EsdbDouble;
  service: Service;
  token: string;
  /** A GraphQL request over HTTP with the root token, answered as it comes. */
  request(query: string, variables?: Record<string, unknown>): Promise<GraphQLAnswer>;
  close(): Promise<void>;
}

export async function startEsdbService(options: Omit<ServiceOptions, 'host'> = {}): Promise<EsdbService> {
  const double = await EsdbDouble.start();
  const folder = await mkdtemp(join(tmpdir(), 'backplane-esdb-'));
  const token = `bpk_test_${randomBytes(24).toString('base64url')}`;
  const config = loadConfig({
    BACKPLANE_EVENT_STORE: 'esdb',
    BACKPLANE_ESDB_URL: double.connectionString,
    BACKPLANE_DATA_DIR: folder,
    BACKPLANE_MASTER_KEY: randomBytes(32).toString('base64'),
    BACKPLANE_BOOTSTRAP_TOKEN: token,
    PORT: '0',
  });
  let service: Service;
  try {
    service = await startService(config, { ...options, host: '127.0.0.1' });
  } catch (error) {
    await double.stop();
    await rm(folder, { recursive: true, force: true });
    throw error;
  }
  return {
    double,
    service,
    token,
    async request(query, variables = {}) {
      const response = await fetch(service.server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as GraphQLAnswer;
    },
    async close() {
      await service.close();
      await double.stop();
      await rm(folder, { recursive: true, force: true });
    },
  };
}
