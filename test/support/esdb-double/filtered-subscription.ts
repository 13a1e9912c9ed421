/**
 * Part of a test double of EventStoreDB's gRPC Streams service: a subscription to $all with a
 * server-side filter, as EventStoreDB 23.10 serves it (Enumerators.AllSubscriptionFiltered,
 * AllReader.ReadAllEventsForwardInternal, SubscriptionsService.ProcessEventCommited):
 *
 * - The filter is on stream names or on event types, by a regular expression or by prefixes, and
 *   the records of `$epoch-information` and of persistent subscriptions' checkpoint and parked
 *   streams never pass it (the default filter of $all).
 * - History is read in pages: each looks at records until 32 pass the filter or it has looked at
 *   the search window (32 unless the client names its maximum). The records looked at are
 *   counted; after a page that brings the count to the checkpoint interval (the client's
 *   multiplier times the window), a checkpoint is sent at the position of the page's last event
 *   that passed, or, when none did, at the page's start (the next record's place, prepare 0), and
 *   the count keeps what is over. A page that reaches the end sends no checkpoint: the
 *   subscription goes live, says it caught up, and keeps the count.
 * - Live, each new record is counted, and the one that brings the count to the interval is sent
 *   as a checkpoint at its own position, after itself when it passes; the count starts again.
 * - Live messages (events and checkpoints) held for a client that is not taking them: 32, then
 *   the subscription is dropped (23.10) or told it fell behind and served from history (24.x).
 */
import { randomUUID } from 'node:crypto';
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import type { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import type { ReadView, StoredEvent } from './memory-log';
import { caughtUpResponse, checkpointResponse, confirmationResponse, eventResponse, fellBehindResponse, serverError } from './messages';

type ReadCall = ServerWritableStream<ReadReq, ReadResp>;

/** EventStoreDB's ReadBatchSize: the most events of a page, and the search window unless the client names one. */
const READ_BATCH = 32;
/** EventStoreDB's MaxLiveEventBufferCount. */
const LIVE_BUFFER = 32;

interface ServerFilter {
  allows(event: StoredEvent): boolean;
  window: number;
  interval: number;
}

/** The default filter of $all, which every filter of $all applies first. */
function allowedInAll(event: StoredEvent): boolean {
  if (!event.stream.startsWith('$')) return true;
  if (event.stream === '$epoch-information') return false;
  const persistent = event.stream.startsWith('$persistentsubscription-$all::');
  return !(persistent && (event.stream.endsWith('-checkpoint') || event.stream.endsWith('-parked')));
}

function filterOf(options: ReadReq.Options.FilterOptions): ServerFilter | string {
  const onStreams = options.hasStreamIdentifier();
  const expression = onStreams ? options.getStreamIdentifier() : options.getEventType();
  if (!expression) return 'a filter names stream identifiers or event types';
  const regex = expression.getRegex();
  const prefixes = expression.getPrefixList();
  const matcher = regex ? new RegExp(regex) : undefined;
  const window = options.hasMax() ? options.getMax() : READ_BATCH;
  const multiplier = options.getCheckpointintervalmultiplier();
  if (window <= 0 || multiplier <= 0) return 'the search window and the checkpoint interval multiplier must be above 0';
  return {
    allows: (event) => {
      const value = onStreams ? event.stream : event.type;
      return allowedInAll(event) && (matcher ? matcher.test(value) : prefixes.some((prefix) => value.startsWith(prefix)));
    },
    window,
    interval: multiplier * window,
  };
}

export interface FilteredContext {
  view: ReadView;
  slowConsumers: 'drop' | 'fall-behind';
  subscriptions: Set<ReadCall>;
  onSlowConsumer(): void;
  onEvent(): void;
}

const compare = (event: StoredEvent, commit: bigint, prepare: bigint): number =>
  event.commit !== commit ? (event.commit < commit ? -1 : 1) : event.prepare === prepare ? 0 : event.prepare < prepare ? -1 : 1;

export function serveFilteredSubscription(context: FilteredContext, call: ReadCall, options: ReadReq.Options): void {
  const filter = filterOf(options.getFilter()!);
  if (typeof filter === 'string') {
    call.emit('error', serverError(status.INVALID_ARGUMENT, filter));
    return;
  }
  const { view } = context;
  const from = options.getAll()!;
  let live = from.hasEnd();
  /** Index in $all of the next record to look at. */
  let next = live ? view.all.length : 0;
  let fromStart = !live && !from.hasPosition();
  if (from.hasPosition()) {
    // EventStoreDB starts after the first record at or after the position it is given.
    const commit = BigInt(from.getPosition()!.getCommitPosition());
    const prepare = BigInt(from.getPosition()!.getPreparePosition());
    const first = view.all.findIndex((event) => compare(event, commit, prepare) >= 0);
    next = first < 0 ? view.all.length : first + 1;
  }
  let counter = 0;
  let waitingForDrain = false;
  let fellBehind = false;

  /** Messages live records not yet sent would make: what the server would be holding. */
  const held = (): number => {
    let messages = 0;
    let count = counter;
    for (let i = next; i < view.all.length; i++) {
      if (filter.allows(view.all[i])) messages += 1;
      count += 1;
      if (count >= filter.interval) {
        messages += 1;
        count = 0;
      }
    }
    return messages;
  };

  /** One page of history: answers whether the client can take more now. */
  const page = (): boolean => {
    const start = fromStart ? { commit: 0n, prepare: 0n } : { commit: view.all[next]?.commit ?? 0n, prepare: 0n };
    fromStart = false;
    let passed = 0;
    let considered = 0;
    let end = false;
    let last: StoredEvent | undefined;
    let writable = true;
    while (passed < READ_BATCH && considered < filter.window) {
      if (next >= view.all.length) {
        end = true;
        break;
      }
      const event = view.all[next++];
      considered += 1;
      if (!filter.allows(event)) continue;
      passed += 1;
      last = event;
      context.onEvent();
      writable = call.write(eventResponse(event)) && writable;
    }
    counter += considered;
    if (end) {
      live = true;
      return call.write(caughtUpResponse()) && writable;
    }
    if (counter >= filter.interval) {
      counter %= filter.interval;
      writable = call.write(checkpointResponse(last?.commit ?? start.commit, last?.prepare ?? start.prepare)) && writable;
    }
    return writable;
  };

  /** One live record: answers whether the client can take more now. */
  const liveRecord = (): boolean => {
    const event = view.all[next++];
    let writable = true;
    if (filter.allows(event)) {
      context.onEvent();
      writable = call.write(eventResponse(event));
    }
    counter += 1;
    if (counter >= filter.interval) {
      counter = 0;
      writable = call.write(checkpointResponse(event.commit, event.prepare)) && writable;
    }
    return writable;
  };

  const pump = () => {
    if (!context.subscriptions.has(call)) return;
    if (waitingForDrain) {
      if (live && !fellBehind && held() > LIVE_BUFFER) {
        context.onSlowConsumer();
        if (context.slowConsumers === 'drop') {
          context.subscriptions.delete(call);
          call.emit('error', serverError(status.ABORTED, 'Operation timed out: Consumer too slow to handle event while live. Client resubscription required.'));
        } else fellBehind = true;
      }
      return;
    }
    if (fellBehind) {
      fellBehind = false;
      live = false;
      call.write(fellBehindResponse());
    }
    for (;;) {
      if (!live ? !page() : next < view.all.length && !liveRecord()) {
        waitingForDrain = true;
        call.once('drain', () => {
          waitingForDrain = false;
          pump();
        });
        return;
      }
      if (live && next >= view.all.length) return;
    }
  };

  context.subscriptions.add(call);
  const unsubscribe = view.onWrite(pump);
  const end = () => {
    unsubscribe();
    context.subscriptions.delete(call);
  };
  call.on('cancelled', end);
  call.on('close', end);
  call.on('error', end);
  call.write(confirmationResponse(randomUUID()));
  if (live) call.write(caughtUpResponse());
  pump();
}
