/**
 * `npm run bench:store -- --store esdb`: the EventStoreDB adapter next to its floor, the same work
 * done with the bare client (@eventstore/db-client) on the same server: appends with expected
 * revision any, and $all read in pages.
 *
 * With BACKPLANE_BENCH_ESDB_URL unset it runs against test doubles of EventStoreDB's gRPC Streams
 * service (test/support/esdb-double), one for the adapter and one for the floor, in this process.
 * Its figures are the client's and the adapter's overhead over an in-memory server, not
 * EventStoreDB's throughput.
 */
import { EventStoreDBClient, FORWARDS, jsonEvent, START, type Position as EsdbPosition } from '@eventstore/db-client';
import { availableParallelism } from 'node:os';
import { EsdbEventStore } from '../src/eventstore/esdb/esdb-event-store';
import { EsdbDouble } from '../test/support/esdb-double/server';
import {
  appendOurs,
  benchmarkAppends,
  benchmarkReads,
  caseLines,
  formatTable,
  payload,
  QUICK,
  readOurs,
  type Plan,
  type ReadLog,
  type WriteOne,
} from './measure';

/** Not a name Backplane gives a stream, so the adapter's reads skip the floor's events. */
function rawStream(writer: number, nth: number): string {
  return `_bench-raw-${writer}-${nth % 10}`;
}

function appendRaw(client: EventStoreDBClient): WriteOne {
  return async (writer, nth, index) => {
    const { type, data, metadata } = payload(writer, index);
    await client.appendToStream(rawStream(writer, nth), jsonEvent({ type, data, metadata }), { expectedRevision: 'any' });
  };
}

/** Every record of $all, in pages; reading forwards from a position includes it, so it is skipped. */
function readRaw(client: EventStoreDBClient, pageSize: number, signal: AbortSignal): ReadLog {
  return async () => {
    let count = 0;
    let from: EsdbPosition | typeof START = START;
    for (;;) {
      signal.throwIfAborted();
      let read = 0;
      let last: EsdbPosition | undefined;
      const extra = from === START ? 0 : 1;
      for await (const resolved of client.readAll({ fromPosition: from, direction: FORWARDS, maxCount: pageSize + extra })) {
        read += 1;
        last = resolved.event?.position;
      }
      count += read - (read > 0 ? extra : 0);
      if (read < pageSize + extra || !last) return count;
      from = last;
    }
  };
}

/**
 * Calls the adapter makes to the server per append of one event, counted by the test double: to
 * a new stream (no_stream), to a stream whose end it knows, and to one it has not seen (exact
 * revision, read first). The bare client makes one call per append.
 */
async function callsPerAppend(double: EsdbDouble, connectionString: string): Promise<string> {
  const count = 200;
  const store = EsdbEventStore.connect(connectionString);
  const calls = () => double.calls.append + double.calls.read;
  const perAppend = async (work: (i: number) => Promise<unknown>) => {
    const before = calls();
    for (let i = 0; i < count; i++) await work(i);
    return ((calls() - before) / count).toFixed(2);
  };
  const event = (i: number) => [payload(0, i)];
  try {
    const fresh = await perAppend((i) => store.appendToStream(`bench-calls-${i}`, event(i), { expectedRevision: 'no_stream' }));
    const known = await perAppend((i) => store.appendToStream(`bench-calls-${i}`, event(i), { expectedRevision: 0n }));
    const unseen = EsdbEventStore.connect(connectionString);
    try {
      const cold = await perAppend((i) => unseen.appendToStream(`bench-calls-${i}`, event(i), { expectedRevision: 1n }));
      return `calls per append (counted by the test double): new stream ${fresh}, known stream ${known}, stream not seen before ${cold}; the bare client 1`;
    } finally {
      await unseen.close();
    }
  } finally {
    await store.close();
  }
}

/**
 * A subscription whose filter keeps a handful of events, caught up over the adapter's whole log,
 * as a projection that reads one kind of stream is: what EventStoreDB's filter keeps from being
 * sent, counted by the test double.
 */
async function filteredCatchUp(double: EsdbDouble, store: EsdbEventStore): Promise<string> {
  const kept = 'bench-filtered-kept';
  for (let i = 0; i < 10; i++) await store.appendToStream(kept, [payload(0, i)], { expectedRevision: 'any' });
  const head = (await store.headPosition())!;
  const records = double.log.all.length;
  const sent = double.calls.subscriptionEvents;
  const reads = double.calls.read;
  const started = performance.now();
  let events = 0;
  const reached = new Promise<void>((resolve) => {
    const subscription = store.subscribeToAll({ fromPosition: 'start', filter: { streamPrefixes: [kept] } }, (batch) => {
      events += batch.events.length;
      if (batch.caughtUp && store.comparePositions(batch.position, head) >= 0) void subscription.stop().then(resolve);
    });
  });
  await reached;
  const ms = performance.now() - started;
  return (
    `a subscription filtered to one stream, caught up over ${records.toLocaleString('en-US')} records of $all: ${events} events delivered, ` +
    `${double.calls.subscriptionEvents - sent} sent by the server, ${double.calls.read - reads} calls, ${ms.toFixed(0)} ms`
  );
}

export async function runEsdb(plan: Plan): Promise<string[]> {
  const url = process.env.BACKPLANE_BENCH_ESDB_URL;
  // Against test doubles, the adapter and the floor each write a log of their own, so that each
  // reads one record of $all per event it wrote; one server holds both logs, read by both.
  const double = url ? undefined : await EsdbDouble.start();
  const floorDouble = url ? undefined : await EsdbDouble.start();
  const connectionString = url ?? double!.connectionString;
  const store = EsdbEventStore.connect(connectionString);
  const client = EventStoreDBClient.connectionString(url ?? floorDouble!.connectionString);
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(new Error(`time limit of ${plan.timeLimitMs / 1000} s reached`)), plan.timeLimitMs);
  try {
    const appendRows = await benchmarkAppends(plan, { write: { ours: appendOurs(store), raw: appendRaw(client) } }, stop.signal);
    const read = { ours: readOurs(store, plan.pageSize, stop.signal), raw: readRaw(client, plan.pageSize, stop.signal) };
    // The floor counts every record of $all it reads; on one server, Backplane's events as well as its own.
    const expected = { ours: await read.ours(), raw: await read.raw() };
    const readRow = await benchmarkReads(plan, read, expected);
    const server = url
      ? `EventStoreDB at ${store.hosts}`
      : 'the in-process test double of EventStoreDB (client and adapter overhead, not EventStoreDB figures)';
    return [
      `Backplane store benchmark${plan === QUICK ? ' (--quick)' : ''}: ${server}, Node ${process.version}, ${availableParallelism()} CPUs`,
      ...caseLines(plan, expected.ours),
      `floor: the bare client; its readAll counts every record of $all (${expected.raw.toLocaleString('en-US')})${url ? '' : ', in a test double of its own'}`,
      ...formatTable([...appendRows, readRow]),
      ...(double ? [await callsPerAppend(double, connectionString), await filteredCatchUp(double, store)] : []),
    ];
  } finally {
    clearTimeout(timer);
    await store.close();
    await client.dispose();
    await double?.stop();
    await floorDouble?.stop();
  }
}
