import { contentHash } from '../hash-chain';
import type { RecordedEvent } from '../types';

/** One of a stream's last events, as far as an append needs it: to recognise a retry. */
export interface TailEvent {
  id: string;
  revision: bigint;
  /** Exact for the stream's last event only: an append learns the position of its last event alone. */
  position: string;
  /** The hash of the event's content as stored (hash-chain.ts contentHash): a retry must match it. */
  content: string;
}

/** Where a stream ends, as last seen: what the next append chains to and expects. */
export interface StreamTail {
  /** The last event's revision; -1 for a stream without events. */
  revision: bigint;
  /** The last event's chained hash (the genesis hash for a stream without events). */
  hash: string;
  /** The stream's last events known, oldest first, ending with the one at `revision`. */
  recent: TailEvent[];
}

/** How many of a stream's last events are kept, and how many streams. */
const RECENT = 32;
const STREAMS = 10_000;

/**
 * Each stream's end as this process last saw it, from its own appends and reads, so that an
 * append to a warm stream is one write expecting exactly that revision. A tail may be stale
 * (another writer, a read served by a follower): the server's expected-revision check then refuses
 * the write and the caller reads the end again, so a stale tail costs a round trip, never the chain.
 * The least recently used streams are forgotten first.
 */
export class StreamTails {
  private readonly tails = new Map<string, StreamTail>();

  get(stream: string): StreamTail | undefined {
    const tail = this.tails.get(stream);
    if (tail) {
      this.tails.delete(stream);
      this.tails.set(stream, tail);
    }
    return tail;
  }

  set(stream: string, tail: StreamTail): void {
    this.tails.delete(stream);
    this.tails.set(stream, { ...tail, recent: tail.recent.slice(-RECENT) });
    if (this.tails.size > STREAMS) this.tails.delete(this.tails.keys().next().value!);
  }

  /** After an append the tail already had: its events added at the end, unless a later end is known already. */
  extend(stream: string, before: StreamTail, written: TailEvent[], hash: string): void {
    const revision = written[written.length - 1].revision;
    const known = this.tails.get(stream);
    if (known && known.revision >= revision) return;
    this.set(stream, { revision, hash, recent: [...before.recent, ...written] });
  }

  /** From events read up to the stream's end, in revision order. */
  learn(stream: string, events: RecordedEvent[]): void {
    const last = events[events.length - 1];
    if (!last) return;
    const known = this.tails.get(stream);
    if (known && known.revision >= last.revision) return;
    this.set(stream, {
      revision: last.revision,
      hash: last.hash,
      recent: events.map(tailEvent),
    });
  }

  forget(stream: string): void {
    this.tails.delete(stream);
  }
}

/** What a tail keeps of an event read from the stream. */
export function tailEvent(event: RecordedEvent): TailEvent {
  return { id: event.id, revision: event.revision, position: event.position, content: contentHash(event) };
}
