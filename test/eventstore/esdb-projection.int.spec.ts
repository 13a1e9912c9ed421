import { randomUUID } from 'node:crypto';
import { ProjectionRunner } from '../../src/core/projection-runner';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store';
import type { SqlDatabase } from '../../src/sql/database';
import { countingProjection } from '../fixtures/counting.projection';
import { dropTestSchemas, testDatabases } from '../support/databases';
import { EsdbDouble } from '../support/esdb-double/server';
import { realEsdb } from '../support/esdb-subject';
import { eventually } from '../support/eventually';

afterAll(dropTestSchemas);

/** Long: a wait that succeeds ends at once. */
const WAIT_MS = 60_000;
const describeWithDouble = realEsdb ? describe.skip : describe;

for (const database of testDatabases) {
  describeWithDouble(`a projection fed by EventStoreDB (test double), its read model on ${database.name}`, () => {
    let double: EsdbDouble;
    let store: EsdbEventStore;
    let db: SqlDatabase;
    let runner: ProjectionRunner;

    beforeEach(async () => {
      double = await EsdbDouble.start();
      store = EsdbEventStore.connect(double.connectionString);
      db = await database.open();
      runner = new ProjectionRunner({ store, db, projection: countingProjection(), lockRetryMs: 50, retryDelayMs: 50, checkpointWatchMs: 50, maxBatch: 7 });
    });
    afterEach(async () => {
      await runner.stop();
      await store.close();
      await double.stop();
      await db.close();
    });

    async function appendCounted(from: number, count: number) {
      const events = Array.from({ length: count }, (_, i) => ({ type: 'Counted', data: { i: from + i } }));
      await store.appendToStream(`ignored-${randomUUID()}`, [{ type: 'Noise', data: {} }]);
      return store.appendToStream(`counted-${randomUUID()}`, events);
    }

    async function readModel() {
      const [totals] = await db.query<{ applied: string }>('SELECT applied::text AS applied FROM counting_totals');
      const rows = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM counting_seen');
      return { applied: Number(totals.applied), seen: Number(rows[0].n) };
    }

    it('applies every event exactly once through a dropped subscription and a server restart', async () => {
      await appendCounted(0, 30);
      runner.start();
      await eventually(async () => expect((await readModel()).applied).toBeGreaterThan(0), WAIT_MS);

      double.dropSubscriptions();
      await appendCounted(30, 30);
      await double.stop();
      await double.restart();
      // Appends fail while the client reconnects; eventually one goes through.
      const last = await eventually(() => appendCounted(60, 30), WAIT_MS, 100);

      await runner.waitForPosition(last.position, WAIT_MS);
      expect(await readModel()).toEqual({ applied: 90, seen: 90 });
      expect((await runner.checkpoint())?.position).toBe(await store.headPosition());
    });
  });
}
