/**
 * A test double of EventStoreDB's gRPC Streams service, for tests: an in-process gRPC server on
 * @grpc/grpc-js that serves the service definitions shipped inside @eventstore/db-client, holding
 * events in memory (see memory-log.ts for the semantics it follows). It is not EventStoreDB: it
 * serves append, read (of a stream, of $all, and $all as a subscription, filtered on the server or
 * not: filtered-subscription.ts), delete and tombstone, without persistence. Like EventStoreDB it refuses an append larger than its maximum
 * append size (1 MiB unless told) before writing anything; when told, it applies EventStoreDB's
 * default access rules for $all, or acts as a follower that refuses writes (access.ts).
 *
 * It answers the client's server-features probe as EventStoreDB 23.10 does, listing batch append,
 * which the client then uses for calls without credentials of their own (batch-append.ts); or,
 * when told, with UNIMPLEMENTED as servers before 21.10 do, and the client uses the classic append.
 */
import { randomUUID } from 'node:crypto';
import {
  Server,
  ServerCredentials,
  status,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import { SupportedMethod, SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';
import {
  type AppendReq,
  type AppendResp,
  type BatchAppendReq,
  type BatchAppendResp,
  type DeleteReq,
  DeleteResp,
  type ReadReq,
  type ReadResp,
  type TombstoneReq,
  TombstoneResp,
} from '@eventstore/db-client/generated/streams_pb';
import { leaderRefusal, readAllRefusal, type AccessRules } from './access';
import { LiveHold } from './live-hold';
import { serveBatchAppend } from './batch-append';
import { serveFilteredSubscription } from './filtered-subscription';
import { LaggingView, MemoryLog, type ReadView, StreamDeleted } from './memory-log';
import {
  appendResponse,
  caughtUpResponse,
  confirmationResponse,
  eventResponse,
  fellBehindResponse,
  expectedOf,
  maxAppendSizeError,
  proposedEvent,
  serverError,
  streamDeletedError,
  streamName,
  streamNotFoundResponse,
  wrongExpectedVersionError,
} from './messages';
import { allRead, streamRead, subscriptionStart } from './reads';

type ReadCall = ServerWritableStream<ReadReq, ReadResp>;

/** EventStoreDB's MaxLiveEventBufferCount: live events held for a client that is not taking them. */
const LIVE_BUFFER = 32;

export interface DoubleOptions extends AccessRules {
  /** EventStoreDB's MaxAppendSize, in bytes: 1 MiB by default. */
  maxAppendSize?: number;
  /** What a live subscription whose client does not keep up gets: 'drop' as from EventStoreDB 23.10 (the default), 'fall-behind' as from 24.x. */
  slowConsumers?: 'drop' | 'fall-behind';
  /**
   * The answer to the client's server-features probe: '23.10' lists the methods served, batch
   * append among them (the default); 'none' is UNIMPLEMENTED, as from a server before 21.10, and
   * the client then always uses the classic append.
   */
  serverFeatures?: '23.10' | 'none';
}

/** The methods listed to the server-features probe, as EventStoreDB names them (lower case). */
const SERVED_METHODS: [service: string, method: string, features: string[]][] = [
  ['event_store.client.streams.streams', 'read', ['position', 'events']],
  ['event_store.client.streams.streams', 'append', []],
  ['event_store.client.streams.streams', 'delete', []],
  ['event_store.client.streams.streams', 'tombstone', []],
  ['event_store.client.streams.streams', 'batchappend', ['deadline_duration']],
  ['event_store.client.server_features.serverfeatures', 'getsupportedmethods', []],
];

export class EsdbDouble {
  /**
   * Calls served, by method: what a client's work costs in round trips; subscribers found too
   * slow; and events sent to subscriptions, what a server-side filter saves.
   */
  readonly calls = { append: 0, read: 0, delete: 0, tombstone: 0, readsRequiringLeader: 0, slowConsumers: 0, batchAppendCalls: 0, subscriptionEvents: 0 };
  private server: Server | undefined;
  private port = 0;
  private readonly subscriptions = new Set<ReadCall>();
  private readonly live = new LiveHold();

  private constructor(
    /** The log this node writes to: its own, or its leader's for a follower. */
    readonly log: MemoryLog,
    /** What this node's reads see of the log. */
    private readonly view: ReadView,
    readonly maxAppendSize: number,
    readonly slowConsumers: 'drop' | 'fall-behind',
    readonly serverFeatures: '23.10' | 'none',
    private readonly access: AccessRules,
  ) {}

  static async start(options: DoubleOptions = {}): Promise<EsdbDouble> {
    const { maxAppendSize, slowConsumers, serverFeatures, ...access } = options;
    const log = new MemoryLog();
    const double = new EsdbDouble(log, log, maxAppendSize ?? 1024 * 1024, slowConsumers ?? 'drop', serverFeatures ?? '23.10', access);
    await double.listen();
    return double;
  }

  /**
   * A second node of the same cluster: a follower of this one, whose reads see the log `lag`
   * records behind, and which refuses writes, and reads that require the leader, naming this node.
   */
  async startFollower(lag: number): Promise<EsdbDouble> {
    const follower = new EsdbDouble(this.log, new LaggingView(this.log, lag), this.maxAppendSize, this.slowConsumers, this.serverFeatures, {
      ...this.access,
      leader: { host: '127.0.0.1', port: this.port },
    });
    await follower.listen();
    return follower;
  }

  /** How the client reaches it: one insecure node, as a local EventStoreDB would be run. */
  get connectionString(): string {
    return `esdb://127.0.0.1:${this.port}?tls=false`;
  }

  /** Live subscriptions being served, for tests that wait for one to be there. */
  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  /** Goes away as a crashed server would: every call under way fails, and nothing answers. */
  async stop(): Promise<void> {
    this.server?.forceShutdown();
    this.server = undefined;
    this.subscriptions.clear();
  }

  /** Answers again on the same port, with the same events. */
  async restart(): Promise<void> {
    if (!this.server) await this.listen();
  }

  /**
   * Holds back what live subscriptions are sent of new writes until the answer is called, while
   * reads answer at once: the end of $all moves before a subscriber hears of it (live-hold.ts).
   */
  holdLive(): () => void {
    return this.live.hold();
  }

  /** Ends every live subscription with UNAVAILABLE, as a server does when it drops one mid-stream. */
  dropSubscriptions(): void {
    for (const call of this.subscriptions) call.emit('error', serverError(status.UNAVAILABLE, 'subscription dropped by the server'));
    this.subscriptions.clear();
  }

  private async listen(): Promise<void> {
    const server = new Server();
    server.addService(StreamsService, {
      read: (call: ReadCall) => this.read(call),
      append: (call: ServerReadableStream<AppendReq, AppendResp>, callback: sendUnaryData<AppendResp>) => this.append(call, callback),
      delete: (call: ServerUnaryCall<DeleteReq, DeleteResp>, callback: sendUnaryData<DeleteResp>) => this.delete(call, callback),
      tombstone: (call: ServerUnaryCall<TombstoneReq, TombstoneResp>, callback: sendUnaryData<TombstoneResp>) => this.tombstone(call, callback),
      batchAppend: (call: ServerDuplexStream<BatchAppendReq, BatchAppendResp>) => {
        this.calls.batchAppendCalls += 1;
        serveBatchAppend(
          {
            log: this.log,
            maxAppendSize: this.maxAppendSize,
            leaderRefusal: (metadata) => leaderRefusal(this.access, metadata, true),
            onAppend: () => {
              this.calls.append += 1;
            },
          },
          call,
        );
      },
    });
    server.addService(ServerFeaturesService, {
      getSupportedMethods: (_call: unknown, callback: sendUnaryData<SupportedMethods>) => {
        if (this.serverFeatures === 'none') {
          callback(serverError(status.UNIMPLEMENTED, 'not implemented') as never, null);
          return;
        }
        const methods = SERVED_METHODS.map(([service, method, features]) =>
          new SupportedMethod().setServiceName(service).setMethodName(method).setFeaturesList(features),
        );
        callback(null, new SupportedMethods().setEventStoreServerVersion('23.10.1').setMethodsList(methods));
      },
    });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${this.port}`, ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
    );
    this.server = server;
  }

  private read(call: ReadCall): void {
    this.calls.read += 1;
    if (call.metadata.get('requires-leader')[0] === 'true') this.calls.readsRequiringLeader += 1;
    const options = call.request.getOptions()!;
    const refusal = leaderRefusal(this.access, call.metadata, false) ?? (options.hasAll() ? readAllRefusal(this.access, call.metadata) : undefined);
    if (refusal) {
      call.emit('error', refusal);
      return;
    }
    if (options.hasFilter()) {
      // EventStoreDB filters reads of $all too, but @eventstore/db-client 6.2.1 asks for filters on subscriptions only.
      if (options.hasSubscription() && options.hasAll()) {
        serveFilteredSubscription(
          {
            view: this.live.viewFor(this.view),
            slowConsumers: this.slowConsumers,
            subscriptions: this.subscriptions,
            onSlowConsumer: () => {
              this.calls.slowConsumers += 1;
            },
            onEvent: () => {
              this.calls.subscriptionEvents += 1;
            },
          },
          call,
          options,
        );
      } else call.emit('error', serverError(status.UNIMPLEMENTED, 'the test double serves filters on subscriptions to $all only'));
      return;
    }
    if (options.hasSubscription()) {
      if (!options.hasAll()) call.emit('error', serverError(status.UNIMPLEMENTED, 'the test double serves subscriptions to $all only'));
      else this.subscribe(call, options);
      return;
    }
    try {
      if (options.hasAll()) {
        for (const event of allRead(this.view, options)) call.write(eventResponse(event));
      } else {
        const stream = streamName(options.getStream()!.getStreamIdentifier());
        const events = streamRead(this.view, options, stream);
        if (events === null) call.write(streamNotFoundResponse(stream));
        else for (const event of events) call.write(eventResponse(event));
      }
      call.end();
    } catch (error) {
      if (!(error instanceof StreamDeleted)) throw error;
      call.emit('error', streamDeletedError(error.stream));
    }
  }

  /**
   * History from the start position with backpressure, then caught-up, then each new event as it
   * is written. A live client that stops taking events gets up to 32 more held for it (EventStoreDB's
   * MaxLiveEventBufferCount); one more, and EventStoreDB 23.10 drops the subscription (Aborted,
   * "Consumer too slow"), while 24.x says the subscription fell behind, serves it from the log, and
   * says caught-up again once it has reached the end.
   */
  private subscribe(call: ReadCall, options: ReadReq.Options): void {
    let next = subscriptionStart(this.view, options);
    let caughtUp = false;
    let waitingForDrain = false;
    let fellBehind = false;
    const pump = () => {
      if (!this.subscriptions.has(call)) return;
      if (waitingForDrain) {
        if (caughtUp && !fellBehind && this.view.all.length - next > LIVE_BUFFER) {
          this.calls.slowConsumers += 1;
          if (this.slowConsumers === 'drop') {
            this.subscriptions.delete(call);
            call.emit(
              'error',
              serverError(status.ABORTED, 'Operation timed out: Consumer too slow to handle event while live. Client resubscription required.'),
            );
          } else fellBehind = true;
        }
        return;
      }
      if (fellBehind) {
        fellBehind = false;
        caughtUp = false;
        call.write(fellBehindResponse());
      }
      while (next < this.view.all.length) {
        this.calls.subscriptionEvents += 1;
        if (!call.write(eventResponse(this.view.all[next++]))) {
          waitingForDrain = true;
          call.once('drain', () => {
            waitingForDrain = false;
            pump();
          });
          return;
        }
      }
      if (!caughtUp) {
        caughtUp = true;
        call.write(caughtUpResponse());
      }
    };
    this.subscriptions.add(call);
    const unsubscribe = this.live.viewFor(this.view).onWrite(pump);
    const end = () => {
      unsubscribe();
      this.subscriptions.delete(call);
    };
    call.on('cancelled', end);
    call.on('close', end);
    call.on('error', end);
    call.write(confirmationResponse(randomUUID()));
    pump();
  }

  private append(call: ServerReadableStream<AppendReq, AppendResp>, callback: sendUnaryData<AppendResp>): void {
    this.calls.append += 1;
    const refusal = leaderRefusal(this.access, call.metadata, true);
    if (refusal) {
      callback(refusal as never, null);
      return;
    }
    let options: AppendReq.Options | undefined;
    const proposed: ReturnType<typeof proposedEvent>[] = [];
    let size = 0;
    let refused = false;
    call.on('data', (request: AppendReq) => {
      if (refused) return;
      if (request.hasOptions()) options = request.getOptions();
      else if (request.hasProposedMessage()) {
        const event = proposedEvent(request.getProposedMessage()!);
        // EventStoreDB 23.10's Event.SizeOnDisk, as it evaluates: `data?.Length ?? 0 + metadata?.Length ?? ...`
        // parses as the data's length alone, so neither metadata nor type counts.
        size += event.data.length;
        if (size > this.maxAppendSize) {
          refused = true;
          callback(maxAppendSizeError(this.maxAppendSize) as never, null);
          return;
        }
        proposed.push(event);
      }
    });
    call.on('end', () => {
      if (refused) return;
      if (!options) return callback(serverError(status.INVALID_ARGUMENT, 'an append starts with its options') as never, null);
      const stream = streamName(options.getStreamIdentifier());
      try {
        callback(null, appendResponse(this.log.append(stream, expectedOf(options), proposed)));
      } catch (error) {
        if (!(error instanceof StreamDeleted)) throw error;
        callback(streamDeletedError(stream) as never, null);
      }
    });
  }

  private delete(call: ServerUnaryCall<DeleteReq, DeleteResp>, callback: sendUnaryData<DeleteResp>): void {
    this.calls.delete += 1;
    const refusal = leaderRefusal(this.access, call.metadata, true);
    if (refusal) {
      callback(refusal as never, null);
      return;
    }
    const options = call.request.getOptions()!;
    const stream = streamName(options.getStreamIdentifier());
    try {
      const outcome = this.log.softDelete(stream, expectedOf(options));
      if (outcome.kind !== 'success') {
        callback(wrongExpectedVersionError(stream, outcome) as never, null);
        return;
      }
      const position = new DeleteResp.Position().setCommitPosition(outcome.commit.toString()).setPreparePosition(outcome.prepare.toString());
      callback(null, new DeleteResp().setPosition(position));
    } catch (error) {
      if (!(error instanceof StreamDeleted)) throw error;
      callback(streamDeletedError(stream) as never, null);
    }
  }

  private tombstone(call: ServerUnaryCall<TombstoneReq, TombstoneResp>, callback: sendUnaryData<TombstoneResp>): void {
    this.calls.tombstone += 1;
    const refusal = leaderRefusal(this.access, call.metadata, true);
    if (refusal) {
      callback(refusal as never, null);
      return;
    }
    const stream = streamName(call.request.getOptions()!.getStreamIdentifier());
    try {
      const record = this.log.tombstone(stream);
      const position = new TombstoneResp.Position().setCommitPosition(record.commit.toString()).setPreparePosition(record.prepare.toString());
      callback(null, new TombstoneResp().setPosition(position));
    } catch (error) {
      if (!(error instanceof StreamDeleted)) throw error;
      callback(streamDeletedError(stream) as never, null);
    }
  }
}
