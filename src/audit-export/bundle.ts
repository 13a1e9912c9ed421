import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
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
  /** digests.jsonl: the digests are few (one a period). */
  digestsJsonl: string;
  /** anchor.json: the digest before the first of an export of digest periods after the tenant's first; none when null or absent. */
  anchorJson?: string | null;
  /** events.jsonl, in chunks of whole lines: read once. */
  eventLines(): AsyncIterable<string>;
  /** Where events.jsonl is spooled while it is sized, in a folder of its own removed after; the system's temporary folder unless given. */
  spoolDir?: string;
  /** The time the files are stamped with. */
  madeAt: Date;
}

/**
 * Writes the bundle's files into the archive. A tar header names its file's size before the
 * body, and events.jsonl can be larger than any memory: so it is read once into a file of its
 * own (readable by this process's user only) to size it, then sent from that file and the file
 * removed. The small files go first, flushed, so the client sees bytes at once.
 */
export async function writeBundle(writer: TarGzWriter, parts: BundleParts, signal: AbortSignal): Promise<void> {
  await addText(writer, 'VERIFY.md', VERIFY_MD, parts.madeAt);
  await addText(writer, 'export.json', parts.exportJson, parts.madeAt);
  await addText(writer, 'keys.json', parts.keysJson, parts.madeAt);
  if (parts.anchorJson) await addText(writer, 'anchor.json', parts.anchorJson, parts.madeAt);
  await addText(writer, 'digests.jsonl', parts.digestsJsonl, parts.madeAt);
  (writer.output as Gzip).flush();
  await addSpooled(writer, 'events.jsonl', parts.eventLines(), parts.madeAt, signal, parts.spoolDir ?? tmpdir());
  await writer.finish();
}

function addText(writer: TarGzWriter, name: string, text: string, at: Date): Promise<void> {
  const body = Buffer.from(text, 'utf8');
  return writer.addFile(name, body, body.length, at);
}

async function addSpooled(writer: TarGzWriter, name: string, chunks: AsyncIterable<string>, at: Date, signal: AbortSignal, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const folder = await mkdtemp(join(dir, 'audit-export-'));
  try {
    const file = join(folder, name);
    let size = 0;
    // A client that hung up stops the spooling too, not only the sending.
    await pipeline(
      async function* () {
        for await (const chunk of chunks) {
          const bytes = Buffer.from(chunk, 'utf8');
          size += bytes.length;
          yield bytes;
        }
      },
      createWriteStream(file, { flags: 'wx', mode: 0o600 }),
      { signal },
    );
    await writer.addFile(name, createReadStream(file), size, at);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/**
 * What kind of export a bundle is, which says what it can prove (VERIFY.md): `digest-periods`, the
 * whole periods of the digests it holds, by log position; `full`, the whole history; `time-bounded`,
 * the events that occurred between `from` and `to`; `filtered`, those a filter other than time chose.
 */
export type ExportKind = 'digest-periods' | 'full' | 'time-bounded' | 'filtered';

/**
 * export.json: what was asked for. Complete when only time, or digest periods, narrowed it: then a
 * stream's revisions in the bundle have no gap.
 */
export function exportJsonOf(tenantId: string, query: ExportFilter, digests?: { fromDigest: number; toDigest: number }): string {
  const { from, to, types, ...ids } = query;
  const complete = types === undefined && Object.keys(ids).length === 0;
  const kind: ExportKind = digests ? 'digest-periods' : !complete ? 'filtered' : from || to ? 'time-bounded' : 'full';
  const manifest = {
    tenantId,
    kind,
    fromDigest: digests?.fromDigest ?? null,
    toDigest: digests?.toDigest ?? null,
    from: from?.toISOString() ?? null,
    to: to?.toISOString() ?? null,
    filters: { types: types ?? null, ...ids },
    complete,
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
