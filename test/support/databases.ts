import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { PgDatabase } from '../../src/sql/pg-database';
import { PgliteDatabase } from '../../src/sql/pglite-database';
import type { SqlDatabase } from '../../src/sql/database';
import { pgliteTemplateDump } from './pglite-template';
import { testDatabaseUrl } from './postgres-url';

export const postgresAvailable = process.env.BACKPLANE_TEST_POSTGRES === 'available';

/** describe() when the PostgreSQL server answers; reported as skipped (never as passed) when it does not, outside CI. */
export const describeWithPostgres: jest.Describe = postgresAvailable ? describe : describe.skip;

export interface TestDatabase {
  name: 'pglite' | 'postgres';
  open(): Promise<SqlDatabase>;
}

/** A fresh schema on the server per call, dropped by dropTestSchemas(). */
const schemas: string[] = [];

export function newSchemaName(): string {
  return `bp_test_${randomBytes(6).toString('hex')}`;
}

export async function openPostgres(schema = newSchemaName(), maxConnections = 10): Promise<PgDatabase> {
  if (!schemas.includes(schema)) schemas.push(schema);
  return PgDatabase.connect({ connectionString: testDatabaseUrl(), schema, maxConnections });
}

/** Another session on the server, in the schema of the database given (as another process's would be); the caller ends it. */
export async function otherSession(db: SqlDatabase): Promise<Client> {
  const [{ schema }] = await db.query<{ schema: string }>('SELECT current_schema() AS schema FROM (SELECT 1) one');
  const client = new Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  await client.query(`SET search_path = ${schema}`);
  return client;
}

export async function dropTestSchemas(): Promise<void> {
  if (schemas.length === 0) return;
  const client = new Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  try {
    for (const schema of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * Creating a PGlite cluster takes seconds: the run makes one (pglite-template.ts) and each test
 * file copies it for every database it opens; a file run without the run's setup makes its own.
 */
let pgliteTemplate: Promise<Blob> | undefined;
async function openPglite(): Promise<PgliteDatabase> {
  pgliteTemplate ??= pgliteTemplateDump().then(
    async (dump) =>
      dump ??
      PgliteDatabase.open().then(async (db) => {
        const template = await db.dump();
        await db.close();
        return template;
      }),
  );
  return PgliteDatabase.open(undefined, { from: await pgliteTemplate });
}

export const pglite: TestDatabase = { name: 'pglite', open: openPglite };
export const postgres: TestDatabase = { name: 'postgres', open: () => openPostgres() };

/** Every database a suite runs against: PGlite always, the server when it answers (always in CI). */
export const testDatabases: TestDatabase[] = postgresAvailable ? [pglite, postgres] : [pglite];
