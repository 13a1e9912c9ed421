import type { EventData as EsdbEventData, JSONType, ResolvedEvent } from '@eventstore/db-client';
import type { JsonObject, JsonValue, RecordedEvent } from '../types';
import { isStreamName, type ValidEvent } from '../validation';
import { formatPosition, type EsdbPosition } from './position';

/**
 * What an event's metadata holds on EventStoreDB: the writer's metadata, and the event's link in
 * its stream's hash chain (EventStoreDB has no column of its own for it). The writer's correlation
 * and causation ids are repeated at the top as `$correlationId` and `$causationId`, where
 * EventStoreDB's UI and its by-correlation-id projection look for them.
 */
interface Envelope {
  metadata: JsonObject;
  hash: string;
  $correlationId?: string;
  $causationId?: string;
}

export function toEsdbEvent(event: ValidEvent, hash: string): EsdbEventData {
  const { correlationId, causationId } = event.metadata;
  const envelope: Envelope = {
    metadata: event.metadata,
    hash,
    ...(typeof correlationId === 'string' ? { $correlationId: correlationId } : {}),
    ...(typeof causationId === 'string' ? { $causationId: causationId } : {}),
  };
  // The client sends JSON.stringify(data) whatever its declared type: null, numbers and booleans too.
  return { id: event.id, contentType: 'application/json', type: event.type, data: event.data as JSONType, metadata: envelope as unknown as JSONType };
}

/** The event's place in $all. */
export function positionOf(resolved: ResolvedEvent): EsdbPosition | undefined {
  return resolved.event?.position;
}

/**
 * The port's view of an event read from EventStoreDB; undefined for what is not one of Backplane's
 * events: records of system streams (`$`-prefixed, and streams not named as Backplane names them)
 * and system events in Backplane's streams, such as the `$streamDeleted` record a hard delete
 * writes. An event someone wrote into a Backplane stream without the envelope comes back with an
 * empty hash, which verify reports.
 */
export function toRecordedEvent(resolved: ResolvedEvent): RecordedEvent | undefined {
  const event = resolved.event;
  if (!event?.position || !isStreamName(event.streamId) || event.type.startsWith('$')) return undefined;
  const envelope = isEnvelope(event.metadata) ? event.metadata : undefined;
  return {
    id: event.id,
    type: event.type,
    data: event.isJson ? (event.data as JsonValue) : null,
    metadata: envelope?.metadata ?? {},
    stream: event.streamId,
    revision: event.revision,
    position: formatPosition(event.position),
    recordedAt: event.created,
    hash: envelope?.hash ?? '',
  };
}

function isEnvelope(value: unknown): value is Envelope {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return false;
  const { metadata, hash } = value as Partial<Envelope>;
  return typeof hash === 'string' && metadata !== null && typeof metadata === 'object' && !Array.isArray(metadata);
}

/**
 * An append's size as EventStoreDB 23.10 weighs it against MaxAppendSize: the bytes of each
 * event's data alone (its Event.SizeOnDisk, as C# evaluates it, leaves out metadata and type).
 */
export function appendSize(batch: ValidEvent[]): number {
  // The client sends JSON.stringify(data) as the event's data.
  return batch.reduce((total, event) => total + Buffer.byteLength(JSON.stringify(event.data), 'utf8'), 0);
}
