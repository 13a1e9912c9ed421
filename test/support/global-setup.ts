import { Client } from 'pg';
import { preparePgliteTemplate } from './pglite-template';
import { testDatabaseUrl } from './postgres-url';
import { makeRunTmpdir } from './run-tmpdir';

/**
 * Finds out once whether the PostgreSQL server answers. Suites that need it read
 * BACKPLANE_TEST_POSTGRES; with BACKPLANE_REQUIRE_POSTGRES=1 (CI) a missing server fails the run.
 */
export default async function globalSetup(): Promise<void> {
  // First: the template below, and every temporary file of the run, go into the run's own folder.
  makeRunTmpdir();
  await preparePgliteTemplate();
  const url = testDatabaseUrl();
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    process.env.BACKPLANE_TEST_POSTGRES = 'available';
  } catch (error) {
    if (process.env.BACKPLANE_REQUIRE_POSTGRES === '1') {
      throw new Error(`PostgreSQL is required (BACKPLANE_REQUIRE_POSTGRES=1) but ${url} does not answer: ${String(error)}`);
    }
    process.env.BACKPLANE_TEST_POSTGRES = 'missing';
    process.stderr.write(`\nPostgreSQL at ${url} does not answer: its suites are skipped. Set BACKPLANE_REQUIRE_POSTGRES=1 to fail instead.\n`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
