import { randomUUID } from 'node:crypto';
import { WrongExpectedVersionError } from '../eventstore/errors';
import type { EventStore, JsonValue, Position } from '../eventstore/types';
import type { Decider, DomainEvent } from './decider';
import { ConcurrencyError } from './errors';
import { asJsonObject, eventMetadata, type CommandContext } from './metadata';
import { StreamStates } from './read-state';

export interface HandleOptions {
  /**
   * The stream revision the caller last saw (-1n: no stream yet). A different current revision
   * refuses the command with CONFLICT instead of retrying.
   */
  expectedRevision?: bigint;
}

export interface HandleResult<State, Event> {
  /** The events written: [] when the command changed nothing. */
  events: Event[];
  /** Their ids in the log, in order: what a consequence names as its causation. */
  eventIds: string[];
  state: State;
  /** The stream's revision after the command (-1n: still no stream). */
  revision: bigint;
  /** The global position of the last event written, or null when nothing was written. */
  position: Position | null;
  /** The read model the append kept inline (its events are in it already), where one did. */
  inlineReadModel?: string;
}

export interface CommandHandlerOptions {
  /** How many times load-decide-append runs before a conflict with concurrent writers is reported. */
  maxAttempts?: number;
}

/** Load a stream (the context's tenant's only), fold it, decide, append with the loaded revision as the expected one. */
export class CommandHandler {
  private readonly maxAttempts: number;
  private readonly streams = new StreamStates();

  constructor(
    private readonly store: EventStore,
    options: CommandHandlerOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 3;
  }

  /**
   * A command still being made (its facts looked up) is given as a promise: the stream is read
   * meanwhile, and each attempt decides the command it became.
   */
  async handle<State, Command, Event extends DomainEvent>(
    decider: Decider<State, Command, Event>,
    stream: string,
    making: Command | Promise<Command>,
    context: CommandContext,
    options: HandleOptions = {},
  ): Promise<HandleResult<State, Event>> {
    // Awaited below; should anything fail before, its rejection is not left unhandled.
    if (making instanceof Promise) making.catch(() => undefined);
    const metadata = asJsonObject(eventMetadata(context));
    let command: Command | undefined;
    for (let attempt = 1; ; attempt++) {
      const read = this.streams.read(this.store, decider, stream, context.tenantId);
      if (command === undefined) {
        // A read that fails while the command is being made waits for it: its error, if any, comes first.
        read.catch(() => undefined);
        command = await making;
      }
      const { state, revision } = await read;
      if (options.expectedRevision !== undefined && options.expectedRevision !== revision) {
        throw new ConcurrencyError(`${stream} is at version ${revision}, not ${options.expectedRevision}: reload and try again`);
      }

      const events = decider.decide(command, state);
      if (events.length === 0) return { events, eventIds: [], state, revision, position: null };

      const eventIds = events.map(() => randomUUID());
      try {
        const result = await this.store.appendToStream(
          stream,
          events.map((event, index) => ({ id: eventIds[index], type: event.type, data: event.data as JsonValue, metadata })),
          // Drawn above for this attempt alone: no store needs to read back what it wrote under them.
          { expectedRevision: revision === -1n ? 'no_stream' : revision, freshIds: true },
        );
        return {
          events,
          eventIds,
          state: events.reduce(decider.evolve, state),
          revision: result.nextExpectedRevision,
          position: result.position,
          inlineReadModel: result.inlineReadModel,
        };
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) throw error;
        if (options.expectedRevision !== undefined) {
          throw new ConcurrencyError(`${stream} changed while the command ran: reload and try again`);
        }
        if (attempt >= this.maxAttempts) {
          throw new ConcurrencyError(`${stream} kept changing under ${this.maxAttempts} attempts: try again`);
        }
      }
    }
  }
}
