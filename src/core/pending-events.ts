import type { EventStore, Position } from '../eventstore/types';

/** A reader of the log (a projection) as the count needs it. */
export interface PendingReader {
  /** Whether it applies events of this stream. */
  reads(stream: string): boolean;
  /** Where it stands: it has applied everything up to here (null: nothing yet). */
  from: Position | null;
}

const PAGE = 1000;
/** How many times a page short of the end is read again, 100 ms apart. */
const SHORT_PAGE_RETRIES = 50;

/**
 * For each reader, how many events of the log after its `from`, up to `until` inclusive, it has
 * to apply. Positions say nothing of how many events lie between them, so the log is read: once
 * for all readers, from the earliest of them, a page at a time so that memory stays bounded.
 */
export async function countPendingEvents(store: EventStore, readers: PendingReader[], until: Position, signal?: AbortSignal): Promise<number[]> {
  const counts = readers.map(() => 0);
  const after = (position: Position, from: Position | null) => from === null || store.comparePositions(position, from) > 0;
  if (readers.length === 0) return counts;
  const froms = readers.map((reader) => reader.from);
  let cursor: Position | 'start' = froms.includes(null) ? 'start' : (froms as Position[]).reduce((a, b) => (store.comparePositions(a, b) <= 0 ? a : b));
  let waited = 0;
  for (;;) {
    signal?.throwIfAborted();
    const page = await store.readAll({ fromPosition: cursor, maxCount: PAGE });
    for (const event of page) {
      if (store.comparePositions(event.position, until) > 0) return counts;
      readers.forEach((reader, index) => {
        if (after(event.position, reader.from) && reader.reads(event.stream)) counts[index] += 1;
      });
      if (store.comparePositions(event.position, until) === 0) return counts;
    }
    if (page.length > 0) cursor = page[page.length - 1].position;
    // A page short of `until`: a transaction older than some of the events is still open, and
    // the store shows them once it ends (PostgreSQL); or `until` is a record the store does not
    // show (EventStoreDB's own), and the count is what it is after a while.
    waited = page.length < PAGE ? waited + 1 : 0;
    if (waited > SHORT_PAGE_RETRIES) return counts;
    // Otherwise, let requests in between pages: an embedded store answers without a turn of the event loop.
    await new Promise<void>((resolve) => (waited > 0 ? setTimeout(resolve, 100) : setImmediate(resolve)));
  }
}
