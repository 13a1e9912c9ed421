/**
 * Part of a test double of EventStoreDB's gRPC Streams service: protobuf messages in and out,
 * built with the message classes shipped inside @eventstore/db-client.
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { Empty, StreamIdentifier, UUID } from '@eventstore/db-client/generated/shared_pb';
import { type AppendReq, AppendResp, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import type { AppendOutcome, Expected, ProposedEvent, StoredEvent } from './memory-log';

export function streamName(identifier: StreamIdentifier | undefined): string {
  return Buffer.from(identifier?.getStreamName_asU8() ?? new Uint8Array()).toString('utf8');
}

/** The expected revision of an append, delete or tombstone request (they share the field numbers). */
export function expectedOf(options: { hasRevision(): boolean; getRevision(): string; hasNoStream(): boolean; hasStreamExists(): boolean }): Expected {
  if (options.hasRevision()) return { kind: 'revision', revision: BigInt(options.getRevision()) };
  if (options.hasNoStream()) return { kind: 'no_stream' };
  if (options.hasStreamExists()) return { kind: 'stream_exists' };
  return { kind: 'any' };
}

export function proposedEvent(message: AppendReq.ProposedMessage): ProposedEvent {
  const metadata = message.getMetadataMap();
  return {
    id: message.getId()?.getString() ?? '',
    type: metadata.get('type') ?? '',
    contentType: metadata.get('content-type') ?? 'application/octet-stream',
    data: message.getData_asU8(),
    customMetadata: message.getCustomMetadata_asU8(),
  };
}

export function eventResponse(event: StoredEvent): ReadResp {
  const recorded = new ReadResp.ReadEvent.RecordedEvent();
  recorded.setId(new UUID().setString(event.id));
  recorded.setStreamIdentifier(new StreamIdentifier().setStreamName(Buffer.from(event.stream, 'utf8')));
  recorded.setStreamRevision(event.revision.toString());
  recorded.setCommitPosition(event.commit.toString());
  recorded.setPreparePosition(event.prepare.toString());
  recorded.getMetadataMap().set('type', event.type).set('content-type', event.contentType).set('created', event.created.toString());
  recorded.setData(event.data);
  recorded.setCustomMetadata(event.customMetadata);
  const read = new ReadResp.ReadEvent().setEvent(recorded).setCommitPosition(event.commit.toString());
  return new ReadResp().setEvent(read);
}

export function streamNotFoundResponse(stream: string): ReadResp {
  const notFound = new ReadResp.StreamNotFound().setStreamIdentifier(new StreamIdentifier().setStreamName(Buffer.from(stream, 'utf8')));
  return new ReadResp().setStreamNotFound(notFound);
}

export const caughtUpResponse = (): ReadResp => new ReadResp().setCaughtUp(new ReadResp.CaughtUp());

export const fellBehindResponse = (): ReadResp => new ReadResp().setFellBehind(new ReadResp.FellBehind());

/** A filtered subscription's checkpoint: the server has looked at everything up to this position. */
export const checkpointResponse = (commit: bigint, prepare: bigint): ReadResp =>
  new ReadResp().setCheckpoint(new ReadResp.Checkpoint().setCommitPosition(commit.toString()).setPreparePosition(prepare.toString()));

export const confirmationResponse = (id: string): ReadResp => new ReadResp().setConfirmation(new ReadResp.SubscriptionConfirmation().setSubscriptionId(id));

export function appendResponse(outcome: AppendOutcome): AppendResp {
  if (outcome.kind === 'success') {
    const success = new AppendResp.Success();
    if (outcome.revision < 0n) success.setNoStream(new Empty());
    else success.setCurrentRevision(outcome.revision.toString());
    // An append of no events writes nothing and has no position.
    if (outcome.commit < 0n) success.setNoPosition(new Empty());
    else success.setPosition(new AppendResp.Position().setCommitPosition(outcome.commit.toString()).setPreparePosition(outcome.prepare.toString()));
    return new AppendResp().setSuccess(success);
  }
  const wrong = new AppendResp.WrongExpectedVersion();
  if (outcome.current === null) wrong.setCurrentNoStream(new Empty());
  else wrong.setCurrentRevision(outcome.current.toString());
  const { expected } = outcome;
  if (expected.kind === 'revision') wrong.setExpectedRevision(expected.revision.toString());
  else if (expected.kind === 'no_stream') wrong.setExpectedNoStream(new Empty());
  else if (expected.kind === 'stream_exists') wrong.setExpectedStreamExists(new Empty());
  else wrong.setExpectedAny(new Empty());
  return new AppendResp().setWrongExpectedVersion(wrong);
}

/** An error as EventStoreDB sends it: a status, and the kind of failure in the `exception` trailer. */
export function serverError(code: status, details: string, exception?: Record<string, string>): Partial<ServiceError> {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(exception ?? {})) metadata.set(key, value);
  return { code, details, metadata };
}

export function streamDeletedError(stream: string): Partial<ServiceError> {
  return serverError(status.FAILED_PRECONDITION, `Event stream '${stream}' is deleted.`, { exception: 'stream-deleted', 'stream-name': stream });
}

/** EventStoreDB's answer to an append larger than its MaxAppendSize, before anything is written. */
export function maxAppendSizeError(maxAppendSize: number): Partial<ServiceError> {
  return serverError(status.INVALID_ARGUMENT, `Maximum Append Size of ${maxAppendSize} Exceeded.`, {
    exception: 'maximum-append-size-exceeded',
    'maximum-append-size': String(maxAppendSize),
  });
}

export function wrongExpectedVersionError(stream: string, outcome: Extract<AppendOutcome, { kind: 'wrong_expected_version' }>): Partial<ServiceError> {
  const expected = outcome.expected.kind === 'revision' ? outcome.expected.revision.toString() : outcome.expected.kind === 'no_stream' ? '-1' : '-2';
  return serverError(status.FAILED_PRECONDITION, `Append failed due to WrongExpectedVersion. Stream: ${stream}`, {
    exception: 'wrong-expected-version',
    'stream-name': stream,
    'expected-version': expected,
    ...(outcome.current === null ? {} : { 'actual-version': outcome.current.toString() }),
  });
}
