import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { SqlDatabase } from '../../src/sql/database';
import { pglite } from '../support/databases';

/**
 * PGlite answers on this thread, and its promises settle without a turn of the event loop. A
 * caller that appends or queries in a loop (a plan run recording results, a catch-up) must still
 * let timers and requests in: the database gives the loop a turn every few milliseconds.
 */
describe('PGlite lets the event loop turn under a loop of statements', () => {
  let db: SqlDatabase;
  let store: SqlEventStore;

  beforeAll(async () => {
    db = await pglite.open();
    store = await SqlEventStore.open(db);
  });
  afterAll(async () => {
    await db.close();
  });

  it.each([
    ['appends', () => store.appendToStream('looped', [{ type: 'Looped', data: {} }])],
    ['queries', () => db.query('SELECT count(*) FROM events')],
  ] as const)('a timer fires while %s run back to back', async (_what, step) => {
    let fired = false;
    const timer = setTimeout(() => (fired = true), 1);
    let steps = 0;
    // Bounded by steps, not time: without turns the loop would run all of them before the timer.
    while (!fired && steps < 5000) {
      await step();
      steps += 1;
    }
    clearTimeout(timer);
    expect(fired).toBe(true);
    expect(steps).toBeLessThan(5000);
  });
});
