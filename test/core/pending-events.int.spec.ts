import { countPendingEvents } from '../../src/core/pending-events';
import { Throughput } from '../../src/core/throughput';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { SqlDatabase } from '../../src/sql/database';
import { dropTestSchemas, testDatabases } from '../support/databases';

afterAll(dropTestSchemas);

for (const database of testDatabases) {
  describe(`counting what each reader has left, on ${database.name}`, () => {
    let db: SqlDatabase;
    let store: SqlEventStore;
    beforeEach(async () => {
      db = await database.open();
      store = await SqlEventStore.open(db);
    });
    afterEach(() => db.close());

    const append = async (stream: string, count: number) => {
      const result = await store.appendToStream(
        stream,
        Array.from({ length: count }, (_, n) => ({ type: 'Counted', data: { n } })),
      );
      return result.position;
    };

    it('counts, in one pass over pages, the events after each reader that it reads, up to the given end', async () => {
      const afterPlans = await append('plan-1', 700);
      await append('task-1', 900);
      const end = await append('plan-2', 600);
      await append('plan-3', 50); // after the end: not counted
      const reads = (prefix: string) => (stream: string) => stream.startsWith(prefix);
      const counts = await countPendingEvents(
        store,
        [
          { reads: () => true, from: null },
          { reads: reads('plan-'), from: null },
          { reads: reads('plan-'), from: afterPlans },
          { reads: reads('task-'), from: end },
        ],
        end,
      );
      expect(counts).toEqual([2200, 1300, 600, 0]);
    });

    it('stops when asked to', async () => {
      const end = await append('plan-1', 10);
      const stopped = new AbortController();
      stopped.abort(new Error('stopped'));
      await expect(countPendingEvents(store, [{ reads: () => true, from: null }], end, stopped.signal)).rejects.toThrow('stopped');
    });
  });
}

describe('throughput', () => {
  it('is unknown over less than a second, then the pace of the last seconds, and starts again when the count goes back', () => {
    let now = 0;
    const throughput = new Throughput(() => now);
    throughput.record(0);
    now = 500;
    throughput.record(1000);
    expect(throughput.perSecond()).toBeNull();
    now = 2000;
    throughput.record(4000);
    expect(throughput.perSecond()).toBe(2000);
    expect(throughput.secondsFor(3000)).toBe(2);
    expect(throughput.secondsFor(null)).toBeNull();
    // Twenty seconds on at a tenth of the pace: the older samples leave the window.
    for (let step = 1; step <= 20; step++) {
      now = 2000 + step * 1000;
      throughput.record(4000 + step * 200);
    }
    expect(throughput.perSecond()).toBeCloseTo(200, 5);
    throughput.record(10);
    expect(throughput.perSecond()).toBeNull();
  });
});
