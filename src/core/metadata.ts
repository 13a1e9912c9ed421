import { randomUUID } from 'node:crypto';
import type { JsonObject } from '../eventstore/types';

/** Who did something, as recorded on every event. */
export interface Actor {
  kind: 'user' | 'api-token' | 'system';
  id: string;
  name?: string;
  /** The role the actor acted in, where it has one. */
  role?: string;
}

/** What the handler knows of a command beyond its data; set by the edge from the request, never from input. */
export interface CommandContext {
  tenantId: string;
  actor: Actor;
  /** Ties together everything one request caused. */
  correlationId?: string;
  /** The command or event that caused this one. */
  causationId?: string;
  now?: () => Date;
}

export interface EventMetadata {
  tenantId: string;
  actor: Actor;
  correlationId: string;
  causationId: string;
  occurredAt: string;
}

export function eventMetadata(context: CommandContext): EventMetadata {
  const correlationId = context.correlationId ?? randomUUID();
  return {
    tenantId: context.tenantId,
    actor: recordedActor(context.actor),
    correlationId,
    causationId: context.causationId ?? correlationId,
    occurredAt: (context.now?.() ?? new Date()).toISOString(),
  };
}

export function asJsonObject(metadata: EventMetadata): JsonObject {
  return metadata as unknown as JsonObject;
}

/** Only these fields: whatever else an actor object carries must not reach the log forever. */
function recordedActor(actor: Actor): Actor {
  const recorded: Actor = { kind: actor.kind, id: actor.id };
  if (actor.name !== undefined) recorded.name = actor.name;
  if (actor.role !== undefined) recorded.role = actor.role;
  return recorded;
}
