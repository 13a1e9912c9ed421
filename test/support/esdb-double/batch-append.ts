/**
 * Part of a test double of EventStoreDB's gRPC Streams service: BatchAppend, the bidirectional
 * append the client uses when the server lists it among its features and a call carries no
 * credentials of its own, as EventStoreDB 23.10's Streams.BatchAppend serves it. Requests carry a
 * correlation id; the first names the stream and expected revision, later ones add events, and the
 * one marked final has the append made. Each append is answered on the same call with that
 * correlation id: a success, or an error status whose details say which (wrong expected version,
 * stream deleted, maximum append size exceeded). A follower refuses the whole call with NotLeader.
 */
import type { Metadata, ServerDuplexStream } from '@grpc/grpc-js';
import { Empty as WellKnownEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import { Any } from 'google-protobuf/google/protobuf/any_pb';
import { Code } from '@eventstore/db-client/generated/code_pb';
import {
  AllStreamPosition,
  MaximumAppendSizeExceeded,
  StreamDeleted as StreamDeletedDetails,
  StreamIdentifier,
  WrongExpectedVersion,
} from '@eventstore/db-client/generated/shared_pb';
import { Status } from '@eventstore/db-client/generated/status_pb';
import { type BatchAppendReq, BatchAppendResp } from '@eventstore/db-client/generated/streams_pb';
import type { Expected, MemoryLog, ProposedEvent } from './memory-log';
import { StreamDeleted } from './memory-log';
import { streamName } from './messages';

type BatchCall = ServerDuplexStream<BatchAppendReq, BatchAppendResp>;

interface Pending {
  stream: string;
  identifier: StreamIdentifier;
  expected: Expected;
  events: ProposedEvent[];
  size: number;
}

function status(code: Code, message: string, typeName: string, details: Uint8Array): Status {
  const any = new Any();
  any.pack(details, typeName);
  return new Status().setCode(code).setMessage(message).setDetails(any);
}

function expectedOfBatch(options: BatchAppendReq.Options): Expected {
  if (options.hasStreamPosition()) return { kind: 'revision', revision: BigInt(options.getStreamPosition()) };
  if (options.hasNoStream()) return { kind: 'no_stream' };
  if (options.hasStreamExists()) return { kind: 'stream_exists' };
  return { kind: 'any' };
}

function wrongExpectedVersion(current: bigint | null, expected: Expected): Status {
  const details = new WrongExpectedVersion();
  if (current === null) details.setCurrentNoStream(new WellKnownEmpty());
  else details.setCurrentStreamRevision(current.toString());
  if (expected.kind === 'revision') details.setExpectedStreamPosition(expected.revision.toString());
  else if (expected.kind === 'no_stream') details.setExpectedNoStream(new WellKnownEmpty());
  else if (expected.kind === 'stream_exists') details.setExpectedStreamExists(new WellKnownEmpty());
  else details.setExpectedAny(new WellKnownEmpty());
  return status(Code.ALREADY_EXISTS, 'WrongExpectedVersion', 'event_store.client.WrongExpectedVersion', details.serializeBinary());
}

export interface BatchAppendServer {
  log: MemoryLog;
  maxAppendSize: number;
  /** The refusal of a follower, if this node is one. */
  leaderRefusal(metadata: Metadata): object | undefined;
  /** Told of each append made (a final request): one round trip, as a classic append is one call. */
  onAppend(): void;
}

export function serveBatchAppend(server: BatchAppendServer, call: BatchCall): void {
  const refusal = server.leaderRefusal(call.metadata);
  if (refusal) {
    call.emit('error', refusal);
    return;
  }
  const pending = new Map<string, Pending>();
  call.on('data', (request: BatchAppendReq) => {
    const correlation = request.getCorrelationId();
    const key = correlation?.getString() ?? '';
    const answer = (response: BatchAppendResp, identifier?: StreamIdentifier) => {
      response.setCorrelationId(correlation);
      if (identifier) response.setStreamIdentifier(identifier);
      call.write(response);
    };
    const options = request.getOptions();
    if (options && !pending.has(key)) {
      const identifier = options.getStreamIdentifier() ?? new StreamIdentifier();
      pending.set(key, { stream: streamName(identifier), identifier, expected: expectedOfBatch(options), events: [], size: 0 });
    }
    const write = pending.get(key);
    if (!write) return;
    for (const message of request.getProposedMessagesList()) {
      const metadata = message.getMetadataMap();
      const data = message.getData_asU8();
      write.events.push({
        id: message.getId()?.getString() ?? '',
        type: metadata.get('type') ?? '',
        contentType: metadata.get('content-type') ?? 'application/octet-stream',
        data,
        customMetadata: message.getCustomMetadata_asU8(),
      });
      // As the classic append weighs it: the data alone (see server.ts).
      write.size += data.length;
    }
    if (write.size > server.maxAppendSize) {
      pending.delete(key);
      const details = new MaximumAppendSizeExceeded().setMaxappendsize(server.maxAppendSize);
      answer(
        new BatchAppendResp().setError(
          status(Code.INVALID_ARGUMENT, 'MaximumAppendSizeExceeded', 'event_store.client.MaximumAppendSizeExceeded', details.serializeBinary()),
        ),
        write.identifier,
      );
      return;
    }
    if (!request.getIsFinal()) return;
    pending.delete(key);
    server.onAppend();
    const response = new BatchAppendResp();
    try {
      const outcome = server.log.append(write.stream, write.expected, write.events);
      if (outcome.kind === 'success') {
        const success = new BatchAppendResp.Success();
        if (outcome.revision < 0n) success.setNoStream(new WellKnownEmpty());
        else success.setCurrentRevision(outcome.revision.toString());
        if (outcome.commit < 0n) success.setNoPosition(new WellKnownEmpty());
        else success.setPosition(new AllStreamPosition().setCommitPosition(outcome.commit.toString()).setPreparePosition(outcome.prepare.toString()));
        response.setSuccess(success);
      } else {
        response.setError(wrongExpectedVersion(outcome.current, outcome.expected));
      }
    } catch (error) {
      if (!(error instanceof StreamDeleted)) throw error;
      const details = new StreamDeletedDetails().setStreamIdentifier(write.identifier);
      response.setError(status(Code.NOT_FOUND, 'StreamDeleted', 'event_store.client.StreamDeleted', details.serializeBinary()));
    }
    answer(response, write.identifier);
  });
  call.on('end', () => call.end());
}
