import { setImmediate as nextTurn } from 'node:timers/promises';
import { chainHash, contentHash, contentHashOfText, GENESIS_HASH } from './hash-chain';
import type { EventStore, Position, RecordedEvent, StreamHead } from './types';

export type TamperKind = 'altered' | 'reordered' | 'missing';

export interface TamperReport {
  kind: TamperKind;
  stream: string;
  /** The revision where the stream stops being what was written. */
  revision: bigint;
  eventId?: string;
  position?: Position;
  message: string;
}

/**
 * The longest the walk holds the event loop before it lets other work run (ms): in a server,
 * a verification of a long log must not keep every other request waiting.
 */
const SLICE_MS = 5;

/**
 * An event as the walk checks it: its place, its recorded hash, and what the writer chose, as
 * values or as JSON text (hashed as the values it parses to, see contentHashOfText).
 */
export type EventToCheck = Pick<RecordedEvent, 'id' | 'type' | 'stream' | 'revision' | 'position' | 'hash'> &
  ({ data: RecordedEvent['data']; metadata: RecordedEvent['metadata'] } | { dataText: string; metadataText: string });

export interface VerifyOptions {
  /**
   * Each stream's last revision and hash kept apart from the events (finds a removed tail); by
   * default the store's own. As a function: the heads of the streams the walk checked.
   */
  heads?: Map<string, StreamHead> | ((streams: string[]) => Promise<Map<string, StreamHead>>);
  pageSize?: number;
  onProgress?: (eventsChecked: number) => void;
  /**
   * Checks only the events it selects (one tenant's, say), and only the heads of streams it
   * selected events of. An event of a selected stream that it skips shows as a gap.
   */
  select?: (event: RecordedEvent) => boolean;
  /**
   * Pages of the events to walk, in global order, in place of the whole log read from the store:
   * an index that finds the selected events (one tenant's) and then the log past its reach. They
   * are all checked (select applies to the store's own pages), and only their streams' heads.
   */
  source?: AsyncIterable<EventToCheck[]>;
}

export interface VerifyResult {
  eventsChecked: number;
  streamsChecked: number;
  /** The first problem in global order, or null when the log is intact. */
  problem: TamperReport | null;
}

/**
 * Walks the whole log in global order and recomputes every stream's hash chain.
 * An edited event no longer matches its hash; a moved one breaks the order of its stream's
 * revisions; a removed one leaves a gap, or a stream shorter than its recorded head.
 */
export async function verifyLog(store: EventStore, options: VerifyOptions = {}): Promise<VerifyResult> {
  const pageSize = options.pageSize ?? 250;
  const streams = new Map<string, StreamHead>();
  let eventsChecked = 0;
  const pause = slicer();

  for await (const page of options.source ?? readAllPages(store, pageSize, options.select)) {
    for (const event of page) {
      const wait = pause(weightOf(event));
      if (wait) await wait;
      const problem = checkEvent(event, streams.get(event.stream));
      if (problem) return { eventsChecked, streamsChecked: streams.size, problem: await classifyGap(store, problem) };
      streams.set(event.stream, { revision: event.revision, hash: event.hash });
      eventsChecked++;
    }
    options.onProgress?.(eventsChecked);
  }

  const partial = options.select !== undefined || options.source !== undefined;
  const heads = typeof options.heads === 'function' ? await options.heads([...streams.keys()]) : (options.heads ?? (await store.streamHeads?.()) ?? []);
  for (const [stream, head] of heads) {
    if (partial && !streams.has(stream)) continue;
    let seen = streams.get(stream);
    if (!seen || seen.revision < head.revision) {
      // Events committed after the walk passed their place are read from the stream itself.
      const rest = await store.readStream(stream, {
        fromRevision: seen ? seen.revision + 1n : 0n,
        maxCount: Number(head.revision + 1n - (seen ? seen.revision + 1n : 0n)),
      });
      for (const event of rest) {
        const wait = pause();
        if (wait) await wait;
        const problem = checkEvent(event, seen);
        if (problem) return { eventsChecked, streamsChecked: streams.size, problem };
        seen = { revision: event.revision, hash: event.hash };
        eventsChecked++;
      }
    }
    if (!seen || seen.revision < head.revision) {
      return {
        eventsChecked,
        streamsChecked: streams.size,
        problem: {
          kind: 'missing',
          stream,
          revision: seen ? seen.revision + 1n : 0n,
          message: `stream ${stream} ends at revision ${seen?.revision ?? 'none'} but its head records revision ${head.revision}`,
        },
      };
    }
    if (seen.revision === head.revision && seen.hash !== head.hash) {
      return {
        eventsChecked,
        streamsChecked: streams.size,
        problem: { kind: 'altered', stream, revision: head.revision, message: `stream ${stream}: the last event's hash differs from the recorded head` },
      };
    }
  }
  return { eventsChecked, streamsChecked: streams.size, problem: null };
}

/** The whole log in global order, a page at a time, with only the events selected. */
async function* readAllPages(store: EventStore, pageSize: number, select?: (event: RecordedEvent) => boolean): AsyncGenerator<RecordedEvent[]> {
  let from: Position | 'start' = 'start';
  for (;;) {
    const page = await store.readAll({ fromPosition: from, maxCount: pageSize });
    yield select ? page.filter(select) : page;
    if (page.length < pageSize) return;
    from = page[page.length - 1].position;
  }
}

/** Events of common size checked between two looks at the clock (each takes microseconds). */
const CLOCK_EVERY = 16;
/** Characters of an event's JSON text that count as one more event of common size. */
const TEXT_PER_WEIGHT = 4096;

/**
 * How much checking an event takes, in events of common size: one whose text is known counts by
 * its length (a large one takes milliseconds), so that the clock is looked at after each large one.
 */
function weightOf(event: EventToCheck): number {
  return 'dataText' in event ? 1 + Math.floor((event.dataText.length + event.metadataText.length) / TEXT_PER_WEIGHT) : 1;
}

/**
 * Called before each event is checked, with its weight: a pause for the event loop, once SLICE_MS
 * have passed since the last one; nothing otherwise. The clock is looked at once the events checked
 * since the last look weigh CLOCK_EVERY, so right after a large one.
 */
function slicer(): (weight?: number) => Promise<void> | void {
  let since = performance.now();
  let work = 0;
  let checking = 0;
  return (weight = 1) => {
    work += checking;
    checking = weight;
    if (work < CLOCK_EVERY) return;
    work = 0;
    if (performance.now() - since < SLICE_MS) return;
    return nextTurn().then(() => {
      since = performance.now();
    });
  };
}

/** A revision that comes too early is a move when the skipped one is still somewhere in the stream. */
async function classifyGap(store: EventStore, problem: TamperReport): Promise<TamperReport> {
  if (problem.kind !== 'missing') return problem;
  const [skipped] = await store.readStream(problem.stream, { fromRevision: problem.revision, maxCount: 1 });
  if (skipped?.revision !== problem.revision) return problem;
  return { ...problem, kind: 'reordered', message: `stream ${problem.stream}: revision ${problem.revision} stands after later revisions in the log` };
}

function checkEvent(event: EventToCheck, previous: StreamHead | undefined): TamperReport | null {
  const expectedRevision = previous ? previous.revision + 1n : 0n;
  const at = { stream: event.stream, eventId: event.id, position: event.position };
  if (event.revision > expectedRevision) {
    return {
      kind: 'missing',
      ...at,
      revision: expectedRevision,
      message: `stream ${event.stream}: revision ${expectedRevision} is missing (next found: ${event.revision})`,
    };
  }
  if (event.revision < expectedRevision) {
    return {
      kind: 'reordered',
      ...at,
      revision: event.revision,
      message: `stream ${event.stream}: revision ${event.revision} comes after revision ${expectedRevision - 1n} in the log`,
    };
  }
  const content = 'dataText' in event ? contentHashOfText(event) : contentHash(event);
  const expectedHash = chainHash(previous?.hash ?? GENESIS_HASH, event.stream, event.revision, content);
  if (expectedHash !== event.hash) {
    return {
      kind: 'altered',
      ...at,
      revision: event.revision,
      message: `stream ${event.stream}: event ${event.id} at revision ${event.revision} does not match its hash`,
    };
  }
  return null;
}
