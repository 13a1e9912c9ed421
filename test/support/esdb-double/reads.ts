/**
 * Part of a test double of EventStoreDB's gRPC Streams service: which events a read returns.
 *
 * As EventStoreDB documents them: a stream read starts at the named revision, included; a read of
 * $all forwards starts at the named position, included, and backwards before it; a subscription
 * to $all starts after the first record at or after the named position.
 *
 * Backwards, EventStoreDB 23.10 (AllReader.ReadAllEventsBackwardInternal) keeps a record only when
 * its post-position, the start of the next record, taken as (post, post), is at or before the
 * position named: from a page start (C, 0), the record just before C ends at C, (C, C) > (C, 0),
 * and is left out.
 */
import { ReadReq } from '@eventstore/db-client/generated/streams_pb';
import { type ReadView, recordEnd, type StoredEvent } from './memory-log';

const compare = (event: StoredEvent, commit: bigint, prepare: bigint): number =>
  event.commit !== commit ? (event.commit < commit ? -1 : 1) : event.prepare === prepare ? 0 : event.prepare < prepare ? -1 : 1;

/** Events of a stream read, or null when the stream is not found. */
export function streamRead(log: ReadView, options: ReadReq.Options, stream: string): StoredEvent[] | null {
  const events = log.readStream(stream);
  if (events === null) return null;
  const from = options.getStream()!;
  const forwards = options.getReadDirection() === ReadReq.Options.ReadDirection.FORWARDS;
  const count = Number(options.getCount());
  if (from.hasRevision()) {
    const revision = BigInt(from.getRevision());
    const chosen = forwards ? events.filter((e) => e.revision >= revision) : events.filter((e) => e.revision <= revision).reverse();
    return chosen.slice(0, count);
  }
  if (from.hasEnd()) return forwards ? [] : [...events].reverse().slice(0, count);
  return forwards ? events.slice(0, count) : events.slice(0, 1);
}

export function allRead(log: ReadView, options: ReadReq.Options): StoredEvent[] {
  const from = options.getAll()!;
  const forwards = options.getReadDirection() === ReadReq.Options.ReadDirection.FORWARDS;
  const count = Number(options.getCount());
  if (from.hasPosition()) {
    const commit = BigInt(from.getPosition()!.getCommitPosition());
    const prepare = BigInt(from.getPosition()!.getPreparePosition());
    const endsBefore = (e: StoredEvent) => {
      const post = recordEnd(e);
      return post < commit || (post === commit && post <= prepare);
    };
    const chosen = forwards ? log.all.filter((e) => compare(e, commit, prepare) >= 0) : log.all.filter(endsBefore).reverse();
    return chosen.slice(0, count);
  }
  if (from.hasEnd()) return forwards ? [] : [...log.all].reverse().slice(0, count);
  return forwards ? log.all.slice(0, count) : [];
}

/**
 * Index in $all of the first event a subscription delivers. EventStoreDB starts after the first
 * record at or after the position it is given: after the event itself for an event's position.
 */
export function subscriptionStart(log: ReadView, options: ReadReq.Options): number {
  const from = options.getAll()!;
  if (from.hasEnd()) return log.all.length;
  if (!from.hasPosition()) return 0;
  const commit = BigInt(from.getPosition()!.getCommitPosition());
  const prepare = BigInt(from.getPosition()!.getPreparePosition());
  const index = log.all.findIndex((e) => compare(e, commit, prepare) >= 0);
  return index < 0 ? log.all.length : index + 1;
}
