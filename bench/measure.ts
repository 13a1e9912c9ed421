/**
 * What every store benchmark shares: the plans, the timed loops, ours and the floor taking turns
 * round by round, medians and the table of ratios.
 */
import type { EventStore, ReadAllFrom } from '../src/eventstore/types';

export interface AppendCase {
  writers: number;
  /** Events per timed round, shared out among the writers. */
  events: number;
  /** Events written untimed before the first round. */
  warmup: number;
}

export interface Plan {
  /** Timed rounds per measurement; the median is reported. */
  rounds: number;
  appends: readonly AppendCase[];
  pageSize: number;
  timeLimitMs: number;
}

export const FULL: Plan = {
  rounds: 5,
  appends: [
    { writers: 1, events: 2_000, warmup: 500 },
    { writers: 32, events: 6_000, warmup: 1_600 },
  ],
  pageSize: 1_000,
  timeLimitMs: 10 * 60_000,
};

export const QUICK: Plan = {
  rounds: 2,
  appends: [
    { writers: 1, events: 200, warmup: 50 },
    { writers: 32, events: 640, warmup: 320 },
  ],
  pageSize: 1_000,
  timeLimitMs: 2 * 60_000,
};

const STREAMS_PER_WRITER = 10;

/** Writes event number `index`, the writer's `nth` write. */
export type WriteOne = (writer: number, nth: number, index: number) => Promise<void>;
/** Reads the whole log once and answers how many events it held. */
export type ReadLog = () => Promise<number>;

export interface Contenders<T> {
  ours: T;
  raw: T;
}

export interface Row {
  label: string;
  rates: Contenders<number>;
  target?: string;
  met?: boolean;
}

export function streamOf(writer: number, nth: number): string {
  return `bench-${writer}-${nth % STREAMS_PER_WRITER}`;
}

export function payload(writer: number, index: number) {
  return {
    type: 'BenchEventRecorded',
    data: { i: index, writer, note: 'a benchmark event of a typical size' },
    metadata: { tenantId: 'bench-tenant', actor: `bench-writer-${writer}` },
  };
}

export function appendOurs(store: EventStore): WriteOne {
  return async (writer, nth, index) => {
    await store.appendToStream(streamOf(writer, nth), [payload(writer, index)], { expectedRevision: 'any' });
  };
}

export function readOurs(store: EventStore, pageSize: number, signal: AbortSignal): ReadLog {
  return async () => {
    let count = 0;
    let from: ReadAllFrom = 'start';
    for (;;) {
      signal.throwIfAborted();
      const page = await store.readAll({ fromPosition: from, maxCount: pageSize });
      count += page.length;
      if (page.length < pageSize) return count;
      from = page[page.length - 1].position;
    }
  };
}

/** Writes `total` events with `writers` concurrent loops taking the next index as they go; answers events/s. */
export async function writeAll(total: number, writers: number, writeOne: WriteOne, signal: AbortSignal): Promise<number> {
  let next = 0;
  const loop = async (writer: number) => {
    for (let nth = 0; ; nth++) {
      signal.throwIfAborted();
      const index = next++;
      if (index >= total) return;
      try {
        await writeOne(writer, nth, index);
      } catch (error) {
        next = total; // the other loops stop after their write in hand, so none outlives the round
        throw error;
      }
    }
  };
  const started = performance.now();
  const outcomes = await Promise.allSettled(Array.from({ length: writers }, (_, writer) => loop(writer)));
  const seconds = (performance.now() - started) / 1000;
  const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failure) throw failure.reason;
  return total / seconds;
}

export async function timeRead(readLog: ReadLog, expected: number, what: string): Promise<number> {
  const started = performance.now();
  const count = await readLog();
  const seconds = (performance.now() - started) / 1000;
  if (count !== expected) {
    throw new Error(
      `${what} read ${count} events, ${expected} were expected (on PostgreSQL, readAll hides events at or above the oldest open transaction: is one open on the server?)`,
    );
  }
  return count / seconds;
}

/**
 * Ours and raw take turns, round by round, so that noise from a shared machine falls on both alike.
 */
export async function interleave(
  rounds: number,
  measure: Contenders<() => Promise<number>>,
  onRound: (round: number, rates: Contenders<number>) => void,
): Promise<Contenders<number>> {
  const ours: number[] = [];
  const raw: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    ours.push(await measure.ours());
    raw.push(await measure.raw());
    onRound(round, { ours: ours[ours.length - 1], raw: raw[raw.length - 1] });
  }
  return { ours: median(ours), raw: median(raw) };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function writersLabel(writers: number): string {
  return `${writers} writer${writers === 1 ? '' : 's'}`;
}

export function progress(line: string): void {
  process.stderr.write(`  ${line}\n`);
}

export function formatTable(rows: Row[]): string[] {
  const labelWidth = Math.max(...rows.map((row) => row.label.length)) + 2;
  const rateWidth = Math.max(...rows.flatMap((row) => [formatCount(row.rates.ours).length, formatCount(row.rates.raw).length]));
  return rows.map((row) => {
    const ratio = row.rates.ours / row.rates.raw;
    const target = row.target === undefined ? '' : `   (target ${row.target}: ${row.met ? 'met' : 'MISSED'})`;
    return (
      `${`${row.label}:`.padEnd(labelWidth)}ours ${formatCount(row.rates.ours).padStart(rateWidth)} ev/s   ` +
      `raw ${formatCount(row.rates.raw).padStart(rateWidth)} ev/s   ratio ${ratio.toFixed(2)}${target}`
    );
  });
}

/** Ours and the floor as an append benchmark needs them. */
export interface AppendContenders {
  write: Contenders<WriteOne>;
  /** Runs, untimed, before each timed run of `writers` writers (opening connections, say). */
  prepare?: (who: keyof Contenders<unknown>, writers: number) => Promise<void>;
  /** The lowest ratio that meets the target, for the runs with more than one writer. */
  targetRatio?: number;
}

export async function benchmarkAppends(plan: Plan, contenders: AppendContenders, signal: AbortSignal): Promise<Row[]> {
  const rows: Row[] = [];
  const { write, prepare, targetRatio } = contenders;
  for (const { writers, events, warmup } of plan.appends) {
    const label = writersLabel(writers);
    const measure = (who: keyof Contenders<unknown>, total: number) => async () => {
      await prepare?.(who, writers);
      return writeAll(total, writers, write[who], signal);
    };
    progress(`append, ${label}: warm-up (${formatCount(warmup)} events each)`);
    await measure('ours', warmup)();
    await measure('raw', warmup)();
    const rates = await interleave(plan.rounds, { ours: measure('ours', events), raw: measure('raw', events) }, (round, rates) =>
      progress(`append, ${label}: round ${round}/${plan.rounds}   ours ${formatCount(rates.ours)} ev/s   raw ${formatCount(rates.raw)} ev/s`),
    );
    const ratio = rates.ours / rates.raw;
    const isTargeted = writers > 1 && targetRatio !== undefined;
    rows.push({
      label: `append, ${label}`,
      rates,
      target: isTargeted ? `>= ${targetRatio.toFixed(2)}` : undefined,
      met: isTargeted ? ratio >= targetRatio : undefined,
    });
  }
  return rows;
}

/** Whole-log reads by ours and the floor, each answering how many events it read. */
/** `expected`: how many events each whole-log read must find (the floor's log may hold more records than ours reads). */
export async function benchmarkReads(plan: Plan, read: Contenders<ReadLog>, expected: Contenders<number>, targetRate?: number): Promise<Row> {
  const timed: Contenders<() => Promise<number>> = {
    ours: () => timeRead(read.ours, expected.ours, 'readAll'),
    raw: () => timeRead(read.raw, expected.raw, 'the raw read'),
  };
  progress(`readAll: warm-up pass each over ${formatCount(expected.ours)} events`);
  await timed.ours();
  await timed.raw();
  const rates = await interleave(plan.rounds, timed, (round, rates) =>
    progress(`readAll: pass ${round}/${plan.rounds}   ours ${formatCount(rates.ours)} ev/s   raw ${formatCount(rates.raw)} ev/s`),
  );
  const target = targetRate === undefined ? {} : { target: `>= ${formatCount(targetRate)} ev/s`, met: rates.ours >= targetRate };
  return { label: 'readAll', rates, ...target };
}

/** Events a run has written by the time the reads start. */
export function eventsWritten(plan: Plan): number {
  return plan.appends.reduce((sum, { events, warmup }) => sum + warmup + plan.rounds * events, 0);
}

export function caseLines(plan: Plan, written: number): string[] {
  const cases = plan.appends.map(({ writers, events }) => `${formatCount(events)} at ${writersLabel(writers)}`).join(', ');
  return [
    `medians of ${plan.rounds} interleaved rounds; appends of 1 event per call, events per round: ${cases};`,
    `readAll: ${formatCount(written)} events in pages of ${formatCount(plan.pageSize)}`,
  ];
}
