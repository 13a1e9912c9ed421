import { randomUUID } from 'node:crypto';
import { chainHash, contentHashOfText, GENESIS_HASH } from '../../src/eventstore/hash-chain';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import { verifyLog, type EventToCheck } from '../../src/eventstore/verify';
import type { SqlDatabase } from '../../src/sql/database';
import { pglite } from '../support/databases';

const EVENTS = 4000;

/**
 * The longest the event loop went without a turn while `work` ran, the gaps between its turns,
 * longest first, and how long `work` took (ms).
 */
async function longestStall(work: () => Promise<unknown>): Promise<{ stall: number; gaps: number[]; took: number }> {
  const gaps: number[] = [];
  const start = performance.now();
  let last = start;
  let running = true;
  const tick = () => {
    const now = performance.now();
    gaps.push(now - last);
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
  gaps.push(end - last);
  gaps.sort((a, b) => b - a);
  return { stall: gaps[0], gaps, took: end - start };
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

  it('looks at the clock after each large event of a walk that reads their text', async () => {
    // Events of about 512 KB each, milliseconds apiece to hash: sixteen of them between two looks
    // at the clock held the loop for a twelfth of the walk at a time.
    const LARGE = 192;
    const dataText = JSON.stringify({ lines: Array.from({ length: 8000 }, (_, n) => `line ${n} ${'x'.repeat(56)}`) });
    const events: EventToCheck[] = [];
    let hash = GENESIS_HASH;
    for (let revision = 0n; revision < BigInt(LARGE); revision++) {
      const event = { id: randomUUID(), type: 'Large', dataText, metadataText: '{"tenantId":"t"}' };
      hash = chainHash(hash, 'large', revision, contentHashOfText(event));
      events.push({ ...event, stream: 'large', revision, position: `1-${revision}`, hash });
    }
    async function* pages() {
      for (let at = 0; at < LARGE; at += 32) yield events.slice(at, at + 32);
    }
    let result: Awaited<ReturnType<typeof verifyLog>> | undefined;
    const { gaps, took } = await longestStall(async () => (result = await verifyLog(store, { source: pages(), heads: async () => new Map() })));
    expect(result).toEqual({ eventsChecked: LARGE, streamsChecked: 1, problem: null });
    // The fourth longest gap: a loaded machine that takes the process off the processor now and
    // then makes a few long ones of its own. No shorter than a slice (5 ms) and a few events: a
    // fast machine checks sixteen events in less.
    expect(gaps[3]).toBeLessThan(Math.max(took / 16, 5 + (3 * took) / LARGE));
  });
});
