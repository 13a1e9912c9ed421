import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { spawnTs, type Child } from '../support/child';
import { describeWithPostgres, newSchemaName } from '../support/databases';
import { testDatabaseUrl } from '../support/postgres-url';

const MAIN = join(__dirname, '..', '..', 'src', 'main.ts');

/**
 * What `npm start` runs, as a process of its own on an embedded store, as a deployment runs it:
 * not under NODE_ENV=test (the libraries' own signal handlers take no part then).
 */
function start(dataDir: string): Child {
  return spawnTs(MAIN, [], {
    NODE_ENV: 'production',
    BACKPLANE_DATA_DIR: dataDir,
    PORT: '0',
    BACKPLANE_MASTER_KEY: '',
    BACKPLANE_BOOTSTRAP_TOKEN: '',
    BACKPLANE_EVENT_STORE: 'pglite',
  });
}

async function me(url: string, token: string): Promise<any> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ me { role root tenant { id } } }' }),
  });
  return response.json();
}

describe('npm start', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'backplane-start-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  // Two start-ups of up to 90 s each on a loaded machine: the default 60 s does not cover both.
  it('prints the URL and, on a new store, the root token once; serves; and stops cleanly on SIGTERM, then on SIGINT', async () => {
    const first = start(dataDir);
    const urlLine = await first.waitFor(/Backplane GraphQL API: http:\/\//, 90_000);
    const url = urlLine.slice(urlLine.indexOf('http://')).trim();
    const token = /\b(bpk_[A-Za-z0-9_-]{40,})\b/.exec(first.output())?.[1];
    expect(token).toBeDefined();
    expect((await me(url, token!)).data.me).toEqual({ role: 'ADMIN', root: true, tenant: { id: 'default' } });
    expect((await stat(join(dataDir, 'master.key'))).mode & 0o777).toBe(0o600);
    // The token is shown on the terminal once and goes to no log line.
    expect(
      first
        .output()
        .split('\n')
        .filter((line) => line.includes(token!)),
    ).toHaveLength(1);
    first.process.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // One signal, one orderly stop: nothing took it for a second one.
    expect(first.output()).toMatch(/"message":"stopping","signal":"SIGTERM"/);
    expect(first.output()).not.toMatch(/stopping at once/);

    const second = start(dataDir);
    const again = await second.waitFor(/Backplane GraphQL API: http:\/\//, 90_000);
    expect(second.output()).not.toMatch(/bpk_/);
    expect((await me(again.slice(again.indexOf('http://')).trim(), token!)).data.me.root).toBe(true);
    second.process.kill('SIGINT');
    expect(await second.exited).toBe(0);
    expect(second.output()).not.toMatch(/stopping at once/);
  }, 240_000);
});

describeWithPostgres('npm start with a database URL alone', () => {
  const schema = newSchemaName();
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'backplane-start-url-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
    const client = new PgClient({ connectionString: testDatabaseUrl() });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => client.end());
  });

  it('keeps its data on that PostgreSQL, says so, and writes no embedded store', async () => {
    const child = spawnTs(MAIN, [], {
      BACKPLANE_EVENT_STORE: '',
      BACKPLANE_DATABASE_URL: testDatabaseUrl(),
      BACKPLANE_DATABASE_SCHEMA: schema,
      BACKPLANE_DATA_DIR: dataDir,
      PORT: '0',
      BACKPLANE_MASTER_KEY: '',
      BACKPLANE_BOOTSTRAP_TOKEN: '',
    });
    try {
      const dataLine = await child.waitFor(/^Data: /, 90_000);
      expect(dataLine).toMatch(new RegExp(`^Data: PostgreSQL at [^ ]+ \\(schema ${schema}\\)$`));
      const client = new PgClient({ connectionString: testDatabaseUrl() });
      await client.connect();
      const events = await client.query(`SELECT count(*)::int AS n FROM ${schema}.events`).finally(() => client.end());
      expect(events.rows[0].n).toBeGreaterThan(0);
      // The embedded store's cluster is not in the data folder.
      await expect(stat(join(dataDir, 'pgdata'))).rejects.toThrow(/ENOENT/);
    } finally {
      child.process.kill('SIGTERM');
      await child.exited;
    }
  }, 120_000);
});
