import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import { dropTestSchemas, testDatabases } from '../support/databases';
import { eventStoreContract } from './event-store.contract';

afterAll(dropTestSchemas);

for (const database of testDatabases) {
  eventStoreContract(database.name === 'pglite' ? 'embedded PGlite' : 'PostgreSQL server', async () => {
    const db = await database.open();
    const store = await SqlEventStore.open(db, { pollIntervalMs: 20 });
    return {
      store,
      close: async () => {
        await store.close();
        await db.close();
      },
    };
  });
}
