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
import type { StreamTail, StreamTails } from './stream-tails';

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
 * Event ids are not checked across streams: EventStoreDB has no multi-stream transaction, so
 * nothing here could make such a check exact.
 */
export class EsdbAppender {
  constructor(
    private readonly io: AppendIo,
    private readonly tails: StreamTails,
  ) {}

  async append(stream: string, expected: ExpectedRevision, batch: ValidEvent[]): Promise<AppendResult> {
    if (expected === 'any' || expected === 'stream_exists') return this.appendAtEnd(stream, expected, batch);
    return this.appendAt(stream, expected, batch);
  }

  /** Expected no_stream or an exact revision: one write, after a read of the end only when it is not known. */
  private async appendAt(stream: string, expected: 'no_stream' | bigint, batch: ValidEvent[]): Promise<AppendResult> {
    const at = expected === 'no_stream' ? -1n : expected;
    let base: StreamTail | undefined = at === -1n ? { revision: -1n, hash: GENESIS_HASH, recent: [] } : this.tails.get(stream);
    if (!base || base.revision < at) {
      base = await this.readEnd(stream, 1);
      if (base.revision < at) throw new WrongExpectedVersionError(stream, expected, revisionOrNoStream(base.revision));
    }
    // Past `at`, the server writes nothing: it answers a retry of what is there, or refuses.
    const chainTo = base.revision === at ? base : undefined;
    const outcome = await this.write(stream, at, chainTo, batch);
    if ('moved' in outcome) throw new WrongExpectedVersionError(stream, expected, outcome.moved);
    return outcome;
  }

  /**
   * Expected any or stream_exists: written at the end as known, and again at the new end when
   * another writer got there first. A retry is recognised while its events are the stream's last.
   */
  private async appendAtEnd(stream: string, expected: 'any' | 'stream_exists', batch: ValidEvent[]): Promise<AppendResult> {
    let end = this.tails.get(stream);
    for (let attempt = 1; ; attempt++) {
      if (!end || end.recent.length < Math.min(batch.length, Number(end.revision + 1n))) end = await this.readEnd(stream, batch.length);
      const repeated = repeatOf(stream, end, batch);
      if (repeated) return repeated;
      if (expected === 'stream_exists' && end.revision < 0n) throw new WrongExpectedVersionError(stream, expected, 'no_stream');
      const outcome = await this.write(stream, end.revision, end, batch);
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
  private async write(stream: string, at: bigint, chainTo: StreamTail | undefined, batch: ValidEvent[]): Promise<AppendResult | Moved> {
    let previous = chainTo?.hash ?? '';
    const proposed = batch.map((event, i) => {
      previous = chainHash(previous, stream, at + 1n + BigInt(i), contentHash(event));
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
    const position = result.position ? formatPosition(result.position) : await this.positionOf(stream, next);
    // A success at the end this append chained to is this batch, whether written now or by the
    // attempt this one repeats (a retry sends the same events). A soft-deleted stream that the
    // write brought back numbers from after its deleted events: its chain is not this one.
    if (chainTo && next === at + BigInt(batch.length)) {
      const written = batch.map((event, i) => ({ id: event.id, revision: at + 1n + BigInt(i), position }));
      this.tails.extend(stream, chainTo, written, previous);
    } else if (chainTo) {
      this.tails.forget(stream);
    }
    return { nextExpectedRevision: next, position };
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
      recent: oldestFirst.map((event) => ({ id: event.id, revision: event.revision, position: event.position })),
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
 * A batch already at the stream's end is a retry: its first outcome. One that shares only some
 * ids with the stream's last events is refused, as EventStoreDB refuses a partial retry.
 */
function repeatOf(stream: string, end: StreamTail, batch: ValidEvent[]): AppendResult | undefined {
  const last = end.recent.slice(-batch.length);
  if (last.length === batch.length && last.every((event, i) => event.id === batch[i].id)) {
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
