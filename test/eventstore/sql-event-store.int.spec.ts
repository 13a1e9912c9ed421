import { randomUUID } from 'node:crypto';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import { dropTestSchemas, testDatabases } from '../support/databases';
import { eventually } from '../support/eventually';
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

  describe(`a live subscription that gathers, on ${database.name}`, () => {
    const GATHER_MS = 2000;
    it('takes what is appended within the while after news in one batch, and stops at once while it waits', async () => {
      const db = await database.open();
      // Reads come of news alone: a poll falling between two appends would read the first alone.
      const store = await SqlEventStore.open(db, { pollIntervalMs: 600_000 });
      try {
        const batches: string[][] = [];
        let caughtUp = false;
        // A while long enough that three appends 50 ms apart fall in it on a loaded machine too.
        const subscription = store.subscribeToAll({ fromPosition: 'end', gatherMs: GATHER_MS }, (batch) => {
          if (batch.events.length > 0) batches.push(batch.events.map((event) => event.type));
          caughtUp ||= batch.caughtUp;
        });
        await eventually(() => expect(caughtUp).toBe(true));
        for (const type of ['First', 'Second', 'Third']) {
          await store.appendToStream(`gathered-${randomUUID()}`, [{ type, data: {} }]);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await eventually(() => expect(batches.flat()).toHaveLength(3), 15_000);
        expect(batches).toEqual([['First', 'Second', 'Third']]);
        // News again, and a stop while the subscription gathers after it: the stop does not wait the while out.
        await store.appendToStream(`gathered-${randomUUID()}`, [{ type: 'Fourth', data: {} }]);
        await new Promise((resolve) => setTimeout(resolve, 100));
        const stopping = Date.now();
        await subscription.stop();
        expect(Date.now() - stopping).toBeLessThan(GATHER_MS / 2);
        expect(batches.flat()).toHaveLength(3);
      } finally {
        await store.close();
        await db.close();
      }
    });
  });
}
