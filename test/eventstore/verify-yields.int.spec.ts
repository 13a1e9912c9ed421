import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import { verifyLog } from '../../src/eventstore/verify';
import type { SqlDatabase } from '../../src/sql/database';
import { pglite } from '../support/databases';

const EVENTS = 4000;

/** The longest the event loop went without a turn while `work` ran, and how long `work` took (ms). */
async function longestStall(work: () => Promise<unknown>): Promise<{ stall: number; took: number }> {
  let longest = 0;
  const start = performance.now();
  let last = start;
  let running = true;
  const tick = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  try {
    await work();
  } finally {
    running = false;
  }
  const end = performance.now();
  return { stall: Math.max(longest, end - last), took: end - start };
}

/** In a server a verification of a long log runs beside every other request: it must let them run. */
describe('a verification of a long log, on PGlite', () => {
  let db: SqlDatabase;
  let store: SqlEventStore;

  beforeAll(async () => {
    db = await pglite.open();
    store = await SqlEventStore.open(db);
    // Events heavy enough to hash that a page of them, checked in one go, holds the loop for long.
    const data = { items: Array.from({ length: 60 }, (_, n) => ({ n, name: `item ${n}`, tags: ['a', 'b', 'c'] })) };
    for (let stream = 0; stream < EVENTS / 500; stream++) {
      await store.appendToStream(
        `load-${stream}`,
        Array.from({ length: 500 }, () => ({ type: 'Loaded', data })),
      );
    }
  }, 120_000);
  afterAll(async () => {
    await db.close();
  });

  it('checks every event and gives the event loop a turn every few milliseconds', async () => {
    let result: Awaited<ReturnType<typeof verifyLog>> | undefined;
    const { stall, took } = await longestStall(async () => (result = await verifyLog(store)));
    expect(result).toEqual({ eventsChecked: EVENTS, streamsChecked: EVENTS / 500, problem: null });
    // A page read from PGlite is one synchronous step of its own (tens of ms, a few percent of the
    // walk); the checking between is cut into slices. Walked in one go, the log held the loop for
    // the whole walk. Measured against the walk itself, so that a loaded machine slows both alike.
    expect(stall).toBeLessThan(took / 4);
  });
});
