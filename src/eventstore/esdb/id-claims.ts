import { WrongExpectedVersionError as EsdbWrongExpectedVersion, jsonEvent, type EventData as EsdbEventData, type ResolvedEvent } from '@eventstore/db-client';
import { DuplicateEventIdError } from '../errors';
import type { EsdbPosition } from './position';

/** What claims need of the store: plain appends and reads, with the store's credentials and error handling. */
export interface ClaimIo {
  append(stream: string, events: EsdbEventData[], expectedRevision: 'no_stream' | bigint): Promise<unknown>;
  /** The stream's event at that revision (the last one for 'last'), or undefined. */
  eventAt(stream: string, revision: bigint | 'last'): Promise<ResolvedEvent | undefined>;
}

/** Where an id is recorded already. */
export interface RecordedId {
  id: string;
  stream: string;
  revision: bigint;
  position: EsdbPosition;
}

interface Claim {
  stream: string;
  revision: string;
}

// Not a name Backplane gives a stream (those start with a letter or digit), so readers skip it.
const CLAIM_PREFIX = '_backplane-event-id-';
const ATTEMPTS = 5;

/**
 * Event ids are unique across the whole log, as the port promises; EventStoreDB only deduplicates
 * within a stream. Before its events are written, each id is claimed in a stream of its own, which
 * names where it goes. A claim whose event never got written (the append lost a race, or the
 * writer died) is taken over by the next writer of that id.
 */
export async function claimIds(io: ClaimIo, stream: string, places: { id: string; revision: bigint }[]): Promise<RecordedId[]> {
  const found = await Promise.all(places.map((place) => claimId(io, stream, place.id, place.revision)));
  return found.filter((recorded): recorded is RecordedId => recorded !== undefined);
}

async function claimId(io: ClaimIo, stream: string, id: string, revision: bigint): Promise<RecordedId | undefined> {
  const claimStream = `${CLAIM_PREFIX}${id}`;
  const claim: Claim = { stream, revision: revision.toString() };
  let expected: 'no_stream' | bigint = 'no_stream';
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      await io.append(claimStream, [jsonEvent({ type: 'EventIdClaimed', data: { ...claim } })], expected);
      return undefined;
    } catch (error) {
      if (!(error instanceof EsdbWrongExpectedVersion)) throw error;
    }
    const last = await io.eventAt(claimStream, 'last');
    if (!last?.event) {
      expected = 'no_stream';
      continue;
    }
    const owner = last.event.data as unknown as Claim;
    const target = await io.eventAt(owner.stream, BigInt(owner.revision));
    if (target?.event?.id === id && target.event.position) {
      return { id, stream: owner.stream, revision: target.event.revision, position: target.event.position };
    }
    if (owner.stream === stream && owner.revision === claim.revision) return undefined;
    expected = last.event.revision;
  }
  // Other writers kept claiming this id for other places: it is not this append's to write.
  throw new DuplicateEventIdError(stream, [id]);
}
