import {
  BACKWARDS,
  END,
  StreamNotFoundError,
  WrongExpectedVersionError as EsdbWrongExpectedVersion,
  type AppendResult as EsdbAppendResult,
  type EventStoreDBClient,
  type ReadStreamOptions,
} from '@eventstore/db-client';
import { DuplicateEventIdError, StreamDeletedError, WrongExpectedVersionError } from '../errors';
import { chainHash, contentHash, GENESIS_HASH } from '../hash-chain';
import type { AppendResult, ExpectedRevision, RecordedEvent } from '../types';
import type { ValidEvent } from '../validation';
import { formatPosition } from './position';
import { toEsdbEvent, toRecordedEvent } from './records';
import { type StreamTail, type StreamTails, tailEvent } from './stream-tails';

/** Appends with 'any' that lost a race to another writer start again from the stream's new end this many times. */
const ANY_ATTEMPTS = 10;

/** What an append needs of the store: its client (which holds the user, if any, as its default). */
export interface AppendIo {
  client: EventStoreDBClient;
}

/** The stream moved on under a write that expected its end: the revision it is at. */
interface Moved {
  moved: bigint | 'no_stream';
}

/**
 * Appends to EventStoreDB keeping the port's hash chain, in one write when the stream's end is
 * known (stream-tails.ts). Every write names the exact revision the events chain to (or no_stream),
 * so EventStoreDB's own check keeps the chain sound whatever else writes, and EventStoreDB's own
 * idempotency answers a retry: the same ids sent again at the same expected revision succeed
 * without writing, with the first outcome. The end is read, from the leader, only when it is not
 * known, or after another writer got there first.
 *
 * EventStoreDB recognises a retry by its ids alone and answers it as it answers a new write. Ids
 * drawn here are new, so that answer is this write; when the caller named ids, the events stored in
 * the batch's place are read back from the leader (one more call) and must have the batch's
 * content, or the append is refused with DUPLICATE_EVENT_ID, and the chain goes on from their
 * stored hash, never from one computed for content that was not written.
 *
 * Event ids are not checked across streams: EventStoreDB has no multi-stream transaction, so
 * nothing here could make such a check exact.
 */
export class EsdbAppender {
  constructor(
    private readonly io: AppendIo,
    private readonly tails: StreamTails,
  ) {}

  /**
   * `namedIds`: the caller named some of the batch's ids. Ids drawn here are new to the log, so
   * the server's success is this write; named ones may be those of events already stored.
   */
  async append(stream: string, expected: ExpectedRevision, batch: ValidEvent[], namedIds: boolean): Promise<AppendResult> {
    if (expected === 'any' || expected === 'stream_exists') return this.appendAtEnd(stream, expected, batch, namedIds);
    return this.appendAt(stream, expected, batch, namedIds);
  }

  /** Expected no_stream or an exact revision: one write, after a read of the end only when it is not known. */
  private async appendAt(stream: string, expected: 'no_stream' | bigint, batch: ValidEvent[], namedIds: boolean): Promise<AppendResult> {
    const at = expected === 'no_stream' ? -1n : expected;
    let base: StreamTail | undefined = at === -1n ? { revision: -1n, hash: GENESIS_HASH, recent: [] } : this.tails.get(stream);
    if (!base || base.revision < at) {
      base = await this.readEnd(stream, 1);
      if (base.revision < at) throw new WrongExpectedVersionError(stream, expected, revisionOrNoStream(base.revision));
    }
    // Past `at`, the server writes nothing: it answers a retry of what is there, or refuses.
    const chainTo = base.revision === at ? base : undefined;
    const outcome = await this.write(stream, at, chainTo, batch, namedIds);
    if ('moved' in outcome) throw new WrongExpectedVersionError(stream, expected, outcome.moved);
    return outcome;
  }

  /**
   * Expected any or stream_exists: written at the end as known, and again at the new end when
   * another writer got there first. A retry is recognised while its events are the stream's last.
   */
  private async appendAtEnd(stream: string, expected: 'any' | 'stream_exists', batch: ValidEvent[], namedIds: boolean): Promise<AppendResult> {
    let end = this.tails.get(stream);
    for (let attempt = 1; ; attempt++) {
      if (!end || end.recent.length < Math.min(batch.length, Number(end.revision + 1n))) end = await this.readEnd(stream, batch.length);
      const repeated = repeatOf(stream, end, batch);
      if (repeated) return repeated;
      if (expected === 'stream_exists' && end.revision < 0n) throw new WrongExpectedVersionError(stream, expected, 'no_stream');
      const outcome = await this.write(stream, end.revision, end, batch, namedIds);
      if (!('moved' in outcome)) return outcome;
      if (attempt >= ANY_ATTEMPTS) throw new WrongExpectedVersionError(stream, expected, outcome.moved);
      end = undefined;
    }
  }

  /**
   * Writes the batch expecting the stream to end at `at`, chained to `chainTo` (the event at `at`),
   * or without a usable chain when the stream is known to be past `at`: the server then writes
   * nothing, and answers success only for a retry of the events already there.
   */
  private async write(stream: string, at: bigint, chainTo: StreamTail | undefined, batch: ValidEvent[], namedIds: boolean): Promise<AppendResult | Moved> {
    let previous = chainTo?.hash ?? '';
    const contents = batch.map(contentHash);
    const proposed = batch.map((event, i) => {
      previous = chainHash(previous, stream, at + 1n + BigInt(i), contents[i]);
      return toEsdbEvent(event, previous);
    });
    let result: EsdbAppendResult;
    try {
      result = await this.io.client.appendToStream(stream, proposed, { expectedRevision: at < 0n ? ('no_stream' as const) : at });
    } catch (error) {
      if (!(error instanceof EsdbWrongExpectedVersion)) throw error;
      this.tails.forget(stream);
      return { moved: typeof error.actualVersion === 'bigint' ? error.actualVersion : 'no_stream' };
    }
    const next = result.nextExpectedRevision;
    const answered = result.position ? formatPosition(result.position) : undefined;
    // EventStoreDB answers events already stored right after `at` under the same ids as it answers a
    // new write, whatever their content: with named ids, what is stored is read back and compared.
    if (namedIds && next === at + BigInt(batch.length)) return this.checkStored(stream, at, chainTo, batch, contents, answered);
    const position = answered ?? (await this.positionOf(stream, next));
    // A success at the end this append chained to, with ids drawn here, is this batch written now.
    // A soft-deleted stream that the write brought back numbers from after its deleted events: its
    // chain is not this one.
    if (chainTo && next === at + BigInt(batch.length)) {
      const written = batch.map((event, i) => ({ id: event.id, revision: at + 1n + BigInt(i), position, content: contents[i] }));
      this.tails.extend(stream, chainTo, written, previous);
    } else if (chainTo) {
      this.tails.forget(stream);
    }
    return { nextExpectedRevision: next, position };
  }

  /**
   * After a success for a batch with named ids: the events stored in its place, read from the
   * leader, are this batch, written now or by an earlier append that this one repeats; or they are
   * other events under the same ids, and the append is refused. The tail takes their stored hash.
   */
  private async checkStored(
    stream: string,
    at: bigint,
    chainTo: StreamTail | undefined,
    batch: ValidEvent[],
    contents: string[],
    answered: string | undefined,
  ): Promise<AppendResult> {
    const stored = (await this.readBackwards(stream, batch.length, at + BigInt(batch.length))).reverse();
    if (stored.length !== batch.length || stored.some((event, i) => event.revision !== at + 1n + BigInt(i))) {
      this.tails.forget(stream);
      throw new StreamDeletedError(stream);
    }
    const differing = batch.filter((event, i) => stored[i].id !== event.id || contentHash(stored[i]) !== contents[i]).map((event) => event.id);
    if (differing.length > 0) {
      this.tails.forget(stream);
      throw new DuplicateEventIdError(stream, differing);
    }
    const last = stored[stored.length - 1];
    if (chainTo) this.tails.extend(stream, chainTo, stored.map(tailEvent), last.hash);
    return { nextExpectedRevision: last.revision, position: answered ?? last.position };
  }

  /**
   * The stream's last `count` events, read from the leader (a follower may not have the latest
   * ones yet). A stream soft-deleted behind Backplane's back is refused: it reads as missing, yet
   * EventStoreDB would number new events after the deleted ones, away from this chain.
   */
  private async readEnd(stream: string, count: number): Promise<StreamTail> {
    const events = await this.readBackwards(stream, Math.max(1, count));
    if (events.length === 0) {
      const { metadata } = await this.io.client.getStreamMetadata(stream, { requiresLeader: true });
      if (metadata?.truncateBefore !== undefined) throw new StreamDeletedError(stream);
      return { revision: -1n, hash: GENESIS_HASH, recent: [] };
    }
    const oldestFirst = events.reverse();
    this.tails.learn(stream, oldestFirst);
    const last = oldestFirst[oldestFirst.length - 1];
    return {
      revision: last.revision,
      hash: last.hash,
      recent: oldestFirst.map(tailEvent),
    };
  }

  private async readBackwards(stream: string, count: number, from: bigint | typeof END = END): Promise<RecordedEvent[]> {
    const read = this.io.client.readStream(stream, {
      fromRevision: from,
      direction: BACKWARDS,
      maxCount: count,
      requiresLeader: true,
    } satisfies ReadStreamOptions);
    const found: RecordedEvent[] = [];
    try {
      for await (const resolved of read) {
        const event = toRecordedEvent(resolved);
        if (event) found.push(event);
      }
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
    }
    return found;
  }

  /** For a server that answered without a position: the event's own, read back. */
  private async positionOf(stream: string, revision: bigint): Promise<string> {
    const [event] = await this.readBackwards(stream, 1, revision);
    if (event?.revision !== revision) throw new StreamDeletedError(stream);
    return event.position;
  }
}

/**
 * A batch already at the stream's end, ids and content, is a retry: its first outcome. One that
 * shares only some ids with the stream's last events is refused, as EventStoreDB refuses a partial
 * retry; so is one whose ids are there with other content.
 */
function repeatOf(stream: string, end: StreamTail, batch: ValidEvent[]): AppendResult | undefined {
  const last = end.recent.slice(-batch.length);
  if (last.length === batch.length && last.every((event, i) => event.id === batch[i].id)) {
    const differing = batch.filter((event, i) => last[i].content !== contentHash(event)).map((event) => event.id);
    if (differing.length > 0) throw new DuplicateEventIdError(stream, differing);
    const final = last[last.length - 1];
    return { nextExpectedRevision: final.revision, position: final.position };
  }
  const known = new Set(end.recent.map((event) => event.id));
  const shared = batch.filter((event) => known.has(event.id)).map((event) => event.id);
  if (shared.length > 0) throw new DuplicateEventIdError(stream, shared);
  return undefined;
}

function revisionOrNoStream(revision: bigint): bigint | 'no_stream' {
  return revision < 0n ? 'no_stream' : revision;
}
