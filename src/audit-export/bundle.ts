import { Readable } from 'node:stream';
import type { Gzip } from 'node:zlib';
import type { TarGzWriter } from '../archive/tar-gz';
import type { ExportFilter } from './export-params';
import { VERIFY_MD } from './verify-md';

/** What a bundle holds; the generated files are made twice (sized, then sent) and must come out the same both times. */
export interface BundleParts {
  /** export.json: the tenant, the period and filters asked for, and whether the export is complete. */
  exportJson: string;
  /** keys.json: the document of /.well-known/backplane-audit-keys.json. */
  keysJson: string;
  /** digests.jsonl: the digests are few (one a period) and read once, so that both passes see the same. */
  digestsJsonl: string;
  /** events.jsonl, in chunks of whole lines. */
  eventLines(): AsyncIterable<string>;
  /** The time the files are stamped with. */
  madeAt: Date;
}

/**
 * Writes the bundle's files into the archive. A tar header names its file's size before the
 * body, and events.jsonl can be larger than any memory: so each generated file is read once to
 * size it and once to send it, the same rows both times (the export's range is fixed when it
 * starts). The small files go first, flushed, so the client sees bytes at once.
 */
export async function writeBundle(writer: TarGzWriter, parts: BundleParts, signal: AbortSignal): Promise<void> {
  await addText(writer, 'VERIFY.md', VERIFY_MD, parts.madeAt);
  await addText(writer, 'export.json', parts.exportJson, parts.madeAt);
  await addText(writer, 'keys.json', parts.keysJson, parts.madeAt);
  await addText(writer, 'digests.jsonl', parts.digestsJsonl, parts.madeAt);
  (writer.output as Gzip).flush();
  await addGenerated(writer, 'events.jsonl', () => parts.eventLines(), parts.madeAt, signal);
  await writer.finish();
}

function addText(writer: TarGzWriter, name: string, text: string, at: Date): Promise<void> {
  const body = Buffer.from(text, 'utf8');
  return writer.addFile(name, body, body.length, at);
}

async function addGenerated(writer: TarGzWriter, name: string, make: () => AsyncIterable<string>, at: Date, signal: AbortSignal): Promise<void> {
  let size = 0;
  for await (const chunk of make()) {
    // A client that hung up stops the sizing pass too, not only the sending one.
    signal.throwIfAborted();
    size += Buffer.byteLength(chunk, 'utf8');
  }
  await writer.addFile(name, Readable.from(make(), { objectMode: false }), size, at);
}

/** export.json: what was asked for. Complete when only time narrowed it: then a stream's revisions in the bundle have no gap. */
export function exportJsonOf(tenantId: string, query: ExportFilter): string {
  const { from, to, types, ...ids } = query;
  const complete = types === undefined && Object.keys(ids).length === 0;
  const manifest = { tenantId, from: from?.toISOString() ?? null, to: to?.toISOString() ?? null, filters: { types: types ?? null, ...ids }, complete };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
