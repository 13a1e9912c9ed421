import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TarGzWriter } from '../../src/archive/tar-gz';
import { writeBundle } from '../../src/audit-export/bundle';
import { readTarGz } from '../../src/audit-export/tar-reader';

/** Writes a bundle of `count` event lines with parts of `partBytes`, noting how many archive bytes had gone out as each line was asked for. */
async function bundleOf(count: number, partBytes: number) {
  const writer = new TarGzWriter();
  const out: Buffer[] = [];
  let sent = 0;
  writer.output.on('data', (chunk: Buffer) => {
    out.push(chunk);
    sent += chunk.length;
  });
  const sentWhenAsked: number[] = [];
  const lines = Array.from({ length: count }, (_, n) => `${JSON.stringify({ n, pad: 'x'.repeat(100) })}\n`);
  async function* eventLines() {
    for (const line of lines) {
      sentWhenAsked.push(sent);
      yield line;
    }
  }
  const parts = { exportJson: '{}\n', keysJson: '{}\n', digestsJsonl: '', eventLines, madeAt: new Date(0), eventsPartBytes: partBytes };
  const ended = once(writer.output, 'end');
  await writeBundle(writer, parts, new AbortController().signal);
  await ended;
  const dir = mkdtempSync(join(tmpdir(), 'bundle-unit-'));
  try {
    const path = join(dir, 'bundle.tar.gz');
    writeFileSync(path, Buffer.concat(out));
    const files: { name: string; text: string }[] = [];
    for await (const entry of readTarGz(path)) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry.body) chunks.push(chunk);
      files.push({ name: entry.name, text: Buffer.concat(chunks).toString('utf8') });
    }
    return { lines, files, sentWhenAsked };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('writeBundle', () => {
  it('sends the events in numbered parts of whole lines, each part out before the next is read', async () => {
    // Lines of about 112 bytes: a part closes once it holds 250 bytes, so after every third line.
    const { lines, files, sentWhenAsked } = await bundleOf(7, 250);
    expect(files.map((file) => file.name)).toEqual([
      'VERIFY.md',
      'export.json',
      'keys.json',
      'digests.jsonl',
      'events-000001.jsonl',
      'events-000002.jsonl',
      'events-000003.jsonl',
    ]);
    const parts = files.slice(4).map((file) => file.text);
    expect(parts.join('')).toBe(lines.join(''));
    expect(parts.every((part) => part.endsWith('\n'))).toBe(true);
    expect(parts.map((part) => part.split('\n').length - 1)).toEqual([3, 3, 1]);
    // The first part had reached the reader when the fourth line was asked for, the second by the seventh.
    expect(sentWhenAsked[3]).toBeGreaterThan(sentWhenAsked[2]);
    expect(sentWhenAsked[6]).toBeGreaterThan(sentWhenAsked[5]);
  });

  it('holds one empty part when there are no events', async () => {
    const { files } = await bundleOf(0, 250);
    expect(files.slice(4)).toEqual([{ name: 'events-000001.jsonl', text: '' }]);
  });
});
