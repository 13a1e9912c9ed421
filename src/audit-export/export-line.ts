import type { JsonObject, JsonValue } from '../eventstore/types';

/** One event as an export carries it: everything needed to recompute its hash, and where it stands in the log. */
export interface ExportedEvent {
  id: string;
  type: string;
  data: JsonValue;
  metadata: JsonObject;
  stream: string;
  revision: bigint;
  position: string;
  recordedAt: Date;
  /** The hash of the event before it in its stream; 64 zeros for a stream's first event. */
  previousHash: string;
  hash: string;
}

/** The same event with data and metadata already as JSON text, as the database hands them over. */
export type ExportedEventText = Omit<ExportedEvent, 'data' | 'metadata' | 'recordedAt'> & { dataJson: string; metadataJson: string; recordedAt: string };

/**
 * The export line of an event (events.jsonl, and the body a destination receives), without its
 * newline. Data and metadata are the values as recorded, never redacted: the hash covers them.
 */
export function exportLine(event: ExportedEvent): string {
  const { data, metadata, recordedAt, ...rest } = event;
  return exportLineOfText({ ...rest, dataJson: JSON.stringify(data), metadataJson: JSON.stringify(metadata), recordedAt: recordedAt.toISOString() });
}

/** exportLine for data and metadata already in JSON text: the database's own rendering is spliced in, not parsed and printed again. */
export function exportLineOfText(event: ExportedEventText): string {
  return (
    `{"id":${JSON.stringify(event.id)},"type":${JSON.stringify(event.type)},"data":${event.dataJson},"metadata":${event.metadataJson},` +
    `"stream":${JSON.stringify(event.stream)},"revision":${event.revision.toString()},"position":${JSON.stringify(event.position)},` +
    `"recordedAt":${JSON.stringify(event.recordedAt)},"previousHash":${JSON.stringify(event.previousHash)},"hash":${JSON.stringify(event.hash)}}`
  );
}
