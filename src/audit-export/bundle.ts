import type { Gzip } from 'node:zlib';
import type { TarGzWriter } from '../archive/tar-gz';
import type { ExportFilter } from './export-params';
import { VERIFY_MD } from './verify-md';

/** What a bundle holds. */
export interface BundleParts {
  /** export.json: the tenant, the period and filters asked for, and whether the export is complete. */
  exportJson: string;
  /** keys.json: the document of /.well-known/backplane-audit-keys.json. */
  keysJson: string;
  /** digests.jsonl: the digests are few (one a period) and read once when the export starts. */
  digestsJsonl: string;
  /** The events' lines, in chunks of whole lines. */
  eventLines(): AsyncIterable<string>;
  /** The time the files are stamped with. */
  madeAt: Date;
  /** EVENTS_PART_BYTES unless told. */
  eventsPartBytes?: number;
}

/**
 * About the most bytes of events one entry of the archive holds. A tar header names its file's
 * size before the body, so a part is gathered in memory before it goes: the first events leave
 * after one part is read, never after the whole export, and memory stays bounded by a part.
 */
export const EVENTS_PART_BYTES = 8 * 1024 * 1024;

/** events-000001.jsonl, events-000002.jsonl, ...: read in this order, they are the export's events. */
export function eventsPartName(index: number): string {
  return `events-${String(index).padStart(6, '0')}.jsonl`;
}

/** Writes the bundle's files into the archive: the small files first, flushed, so the client sees bytes at once. */
export async function writeBundle(writer: TarGzWriter, parts: BundleParts, signal: AbortSignal): Promise<void> {
  await addText(writer, 'VERIFY.md', VERIFY_MD, parts.madeAt);
  await addText(writer, 'export.json', parts.exportJson, parts.madeAt);
  await addText(writer, 'keys.json', parts.keysJson, parts.madeAt);
  await addText(writer, 'digests.jsonl', parts.digestsJsonl, parts.madeAt);
  (writer.output as Gzip).flush();
  await addEventParts(writer, parts.eventLines(), parts.eventsPartBytes ?? EVENTS_PART_BYTES, parts.madeAt, signal);
  await writer.finish();
}

function addText(writer: TarGzWriter, name: string, text: string, at: Date): Promise<void> {
  const body = Buffer.from(text, 'utf8');
  return writer.addFile(name, body, body.length, at);
}

/** The events in parts of whole lines; an export without events still has its one (empty) part. */
async function addEventParts(writer: TarGzWriter, lines: AsyncIterable<string>, partBytes: number, at: Date, signal: AbortSignal): Promise<void> {
  let chunks: string[] = [];
  let size = 0;
  let index = 0;
  const send = async () => {
    index += 1;
    await addText(writer, eventsPartName(index), chunks.join(''), at);
    // Out of gzip's buffer too before the next part is read: the client sees each part as it is made.
    await new Promise<void>((resolve) => (writer.output as Gzip).flush(() => resolve()));
    chunks = [];
    size = 0;
  };
  for await (const chunk of lines) {
    signal.throwIfAborted();
    chunks.push(chunk);
    size += Buffer.byteLength(chunk, 'utf8');
    if (size >= partBytes) await send();
  }
  if (size > 0 || index === 0) await send();
}

/** export.json: what was asked for. Complete when only time narrowed it: then a stream's revisions in the bundle have no gap. */
export function exportJsonOf(tenantId: string, query: ExportFilter): string {
  const { from, to, types, ...ids } = query;
  const complete = types === undefined && Object.keys(ids).length === 0;
  const manifest = { tenantId, from: from?.toISOString() ?? null, to: to?.toISOString() ?? null, filters: { types: types ?? null, ...ids }, complete };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
