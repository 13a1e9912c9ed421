import { eventStoreMigrations } from '../../src/eventstore/postgres/schema';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import { migrate, SchemaVersionError } from '../../src/sql/migrate';
import { describeWithPostgres, dropTestSchemas, newSchemaName, openPostgres, testDatabases } from '../support/databases';

afterAll(dropTestSchemas);

for (const database of testDatabases) {
  describe(`schema on ${database.name}`, () => {
    it('is created on first open, carries its version, and opening again changes nothing', async () => {
      const db = await database.open();
      try {
        const store = await SqlEventStore.open(db);
        await store.appendToStream('thing-1', [{ type: 'A', data: {} }]);
        await SqlEventStore.open(db);
        expect(await db.query('SELECT component, version FROM schema_versions')).toEqual([{ component: 'event-store', version: eventStoreMigrations.length }]);
        expect(await store.readStream('thing-1')).toHaveLength(1);
      } finally {
        await db.close();
      }
    });

    it('applies only the migrations a database lacks, in order', async () => {
      const db = await database.open();
      try {
        const steps = [['CREATE TABLE widgets (id int PRIMARY KEY)'], ['INSERT INTO widgets VALUES (1)']];
        expect(await migrate(db, 'widgets', steps.slice(0, 1))).toBe(1);
        expect(await migrate(db, 'widgets', steps)).toBe(2);
        expect(await migrate(db, 'widgets', steps)).toBe(2);
        expect(await db.query('SELECT id FROM widgets')).toEqual([{ id: 1 }]);
      } finally {
        await db.close();
      }
    });

    it('refuses to run on a database migrated by a newer Backplane, and touches nothing', async () => {
      const db = await database.open();
      try {
        await SqlEventStore.open(db);
        await db.query("UPDATE schema_versions SET version = 99 WHERE component = 'event-store'");
        const error = await SqlEventStore.open(db).catch((e) => e);
        expect(error).toBeInstanceOf(SchemaVersionError);
        expect(error.code).toBe('SCHEMA_TOO_NEW');
        expect(error.message).toMatch(new RegExp(`version 99.*up to ${eventStoreMigrations.length}`));
      } finally {
        await db.close();
      }
    });
  });
}

describeWithPostgres('schema under concurrent starts (PostgreSQL server)', () => {
  it('lets several processes start on one new database at once', async () => {
    const schema = newSchemaName();
    const dbs = await Promise.all(Array.from({ length: 4 }, () => openPostgres(schema)));
    try {
      await Promise.all(dbs.map((db) => SqlEventStore.open(db)));
      expect(await dbs[0].query("SELECT version FROM schema_versions WHERE component = 'event-store'")).toEqual([{ version: eventStoreMigrations.length }]);
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
    }
  });
});
