import type { JsonObject, JsonValue, RecordedEvent } from '../src/eventstore/types';

/** What every read-model row takes from an event's metadata: whose it is, who did it, when. */
export interface EventContext {
  tenantId: string | null;
  actor: { kind: string | null; id: string | null; name: string | null; role: string | null };
  occurredAt: string;
}

export function eventContext(event: RecordedEvent): EventContext {
  const metadata = event.metadata;
  const actor = isObject(metadata.actor) ? metadata.actor : {};
  return {
    tenantId: text(metadata.tenantId),
    actor: { kind: text(actor.kind), id: text(actor.id), name: text(actor.name), role: text(actor.role) },
    occurredAt: isoTime(metadata.occurredAt) ?? event.recordedAt.toISOString(),
  };
}

/** The actor as one JSON value, for a column that keeps who did something. */
export function actorJson(context: EventContext): string {
  return JSON.stringify(context.actor);
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function text(value: JsonValue | undefined): string | null {
  return typeof value === 'string' ? value : null;
}

/**
 * A time as ISO 8601 in UTC (what Backplane writes, unchanged), or null. A text Node reads in
 * another form is given in that form: PostgreSQL refuses some that Node reads (`2026-02-30`, which
 * Node takes for 2 March; the form of Date#toString; year 0), and a row it refused would stop its
 * read model for good. Years outside 1 to 9999 are none.
 */
export function isoTime(value: JsonValue | undefined): string | null {
  if (typeof value !== 'string') return null;
  const time = Date.parse(value);
  if (Number.isNaN(time)) return null;
  const date = new Date(time);
  const year = date.getUTCFullYear();
  return year >= 1 && year <= 9999 ? date.toISOString() : null;
}

/** The event's data as the domain wrote it. */
export function dataOf<T>(event: RecordedEvent): T {
  return event.data as unknown as T;
}
