import { randomUUID } from 'node:crypto';
import type { Projection } from '../../src/core/projection';
import { ProjectionRunner } from '../../src/core/projection-runner';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { SqlDatabase } from '../../src/sql/database';
import { countingProjection } from '../fixtures/counting.projection';
import { dropTestSchemas, testDatabases } from '../support/databases';

afterAll(dropTestSchemas);

/**
 * A batch's few large statements can fail where the same events, one statement each, do not (a
 * JSON document past what PostgreSQL takes, a value the batched form cannot carry): the runner
 * then applies the batch event by event, rather than stopping the read model for good.
 */
for (const database of testDatabases) {
  describe(`a batch the batched form cannot apply, on ${database.name}`, () => {
    let db: SqlDatabase;
    let store: SqlEventStore;
    beforeAll(async () => {
      db = await database.open();
      store = await SqlEventStore.open(db);
      for (let n = 0; n < 30; n++) await store.appendToStream(`counted-${randomUUID()}`, [{ type: 'Counted', data: { i: n } }]);
    });
    afterAll(async () => {
      await db.close();
    });

    it.each([
      ['whose statements the database refuses', (): Projection['applyAll'] => () => [{ sql: 'SELECT 1 / 0' }]],
      [
        'that cannot be made',
        (): Projection['applyAll'] => () => {
          throw new TypeError('a value the batched form cannot carry');
        },
      ],
    ])('is applied event by event when it is one %s', async (_what, applyAll) => {
      const name = `fallback-${randomUUID().slice(0, 8)}`;
      const projection: Projection = { ...countingProjection({ name }), applyAll: applyAll() };
      expect(await new ProjectionRunner({ store, db, projection }).catchUp()).toBe(true);
      const [{ applied }] = await db.query<{ applied: string }>(`SELECT applied::text FROM ${name.replace(/-/g, '_')}_totals`);
      expect(applied).toBe('30');
    });
  });
}
