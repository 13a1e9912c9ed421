import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { TarGzWriter } from '../../src/archive/tar-gz';

const run = promisify(execFile);
const MiB = 1024 * 1024;

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'backplane-tar-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** A stream of `size` random bytes in 64 KiB chunks, made only when read, that reports how much it has handed out. */
function randomStream(size: number): { stream: Readable; digest: () => string; produced: () => number } {
  const hash = createHash('sha256');
  let produced = 0;
  const stream = new Readable({
    read() {
      if (produced >= size) return void this.push(null);
      const chunk = randomBytes(Math.min(64 * 1024, size - produced));
      produced += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.copy().digest('hex'), produced: () => produced };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function extract(archive: string): Promise<string> {
  const target = join(directory, 'extracted');
  await run('mkdir', ['-p', target]);
  await run('tar', ['-xzf', archive, '-C', target]);
  return target;
}

describe('TarGzWriter', () => {
  it('writes an archive the real tar extracts: names, contents, sizes and times, a 150-character name and a streamed 5 MiB body', async () => {
    const archive = join(directory, 'snapshot.tar.gz');
    const writer = new TarGzWriter();
    const written = pipeline(writer.output, createWriteStream(archive));

    const manifest = Buffer.from('{"repositories":2}\n');
    const longName = `repositories/${'group-'.repeat(10)}${'p'.repeat(70)}.bundle`;
    expect(longName).toHaveLength(150);
    const longBody = randomBytes(1000);
    const big = randomStream(5 * MiB);
    const mtime = new Date('2026-11-03T10:20:30Z');

    await writer.addFile('manifest.json', manifest, manifest.length, mtime);
    await writer.addFile(longName, longBody, longBody.length, mtime);
    await writer.addFile('repositories/big.bundle', big.stream, 5 * MiB, mtime);
    await writer.addFile('empty.txt', Buffer.alloc(0), 0, mtime);
    await writer.addFile('exactly-one-block.bin', Buffer.alloc(512, 7), 512, mtime);
    await writer.finish();
    await written;

    const target = await extract(archive);
    expect(await readFile(join(target, 'manifest.json'))).toEqual(manifest);
    expect(sha256(await readFile(join(target, longName)))).toBe(sha256(longBody));
    const bigFile = await stat(join(target, 'repositories/big.bundle'));
    expect(bigFile.size).toBe(5 * MiB);
    expect(sha256(await readFile(join(target, 'repositories/big.bundle')))).toBe(big.digest());
    expect((await stat(join(target, 'empty.txt'))).size).toBe(0);
    expect(await readFile(join(target, 'exactly-one-block.bin'))).toEqual(Buffer.alloc(512, 7));
    expect(bigFile.mtime.toISOString()).toBe('2026-11-03T10:20:30.000Z');

    const { stdout } = await run('tar', ['-tzvf', archive, '--numeric-owner', '--utc']);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    const listed = lines.map((line) => {
      const [mode, owner, size, date, time, ...name] = line.split(/\s+/);
      return { mode, owner, size: Number(size), when: `${date} ${time}`, name: name.join(' ') };
    });
    expect(listed).toEqual([
      { mode: '-rw-r--r--', owner: '0/0', size: manifest.length, when: '2026-11-03 10:20', name: 'manifest.json' },
      { mode: '-rw-r--r--', owner: '0/0', size: 1000, when: '2026-11-03 10:20', name: longName },
      { mode: '-rw-r--r--', owner: '0/0', size: 5 * MiB, when: '2026-11-03 10:20', name: 'repositories/big.bundle' },
      { mode: '-rw-r--r--', owner: '0/0', size: 0, when: '2026-11-03 10:20', name: 'empty.txt' },
      { mode: '-rw-r--r--', owner: '0/0', size: 512, when: '2026-11-03 10:20', name: 'exactly-one-block.bin' },
    ]);
  });

  it('ends with two zero blocks after the last file, and every header checksum is right', async () => {
    const writer = new TarGzWriter();
    const chunks: Buffer[] = [];
    writer.output.on('data', (chunk: Buffer) => chunks.push(chunk));
    await writer.addFile('a.txt', Buffer.from('hello'), 5);
    await writer.addFile(`${'n'.repeat(120)}.txt`, Buffer.from('long'), 4);
    await writer.finish();
    const tar = gunzipSync(Buffer.concat(chunks));

    expect(tar.length % 512).toBe(0);
    expect(tar.subarray(tar.length - 1024).equals(Buffer.alloc(1024))).toBe(true);
    // a.txt: header + one data block; the long name: PAX header + its record block + header + data block; the end.
    expect(tar.length).toBe(512 * (2 + 4 + 2));
    const types: string[] = [];
    for (const offset of [0, 1024, 2048]) {
      const header = tar.subarray(offset, offset + 512);
      const stored = Number.parseInt(header.subarray(148, 154).toString(), 8);
      let sum = 0;
      header.forEach((byte, index) => {
        sum += index >= 148 && index < 156 ? 0x20 : byte;
      });
      expect(stored).toBe(sum);
      expect(header.subarray(257, 265).toString('latin1')).toBe('ustar\u000000');
      types.push(String.fromCharCode(header[156]));
    }
    expect(types).toEqual(['0', 'x', '0']);
    expect(tar.subarray(1536, 2048).toString()).toContain(` path=${'n'.repeat(120)}.txt\n`);
  });

  it('respects backpressure: a streamed body is read only as fast as the archive is', async () => {
    const writer = new TarGzWriter({ level: 1 });
    const body = randomStream(20 * MiB);
    let added = false;
    const adding = writer.addFile('big.bin', body.stream, 20 * MiB).then(() => {
      added = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Random bytes do not compress, so with nobody reading only a few buffers' worth can have been pulled.
    expect(added).toBe(false);
    expect(body.produced()).toBeLessThan(2 * MiB);

    const archive = join(directory, 'big.tar.gz');
    const written = pipeline(writer.output, createWriteStream(archive));
    await adding;
    await writer.finish();
    await written;
    expect(body.produced()).toBe(20 * MiB);
    const target = await extract(archive);
    expect(sha256(await readFile(join(target, 'big.bin')))).toBe(body.digest());
  });

  it('refuses names that would land outside the target folder or are not plain names, and stays usable', async () => {
    const archive = join(directory, 'names.tar.gz');
    const writer = new TarGzWriter();
    const written = pipeline(writer.output, createWriteStream(archive));
    for (const name of ['/etc/passwd', '../escape', 'a/../../escape', 'a/./b', 'a//b', 'dir/', '', 'nul\u0000byte', 'C:\\windows', 'back\\slash']) {
      await expect(writer.addFile(name, Buffer.from('x'), 1)).rejects.toThrow(RangeError);
    }
    await writer.addFile('fine.txt', Buffer.from('x'), 1);
    await writer.finish();
    await written;
    const { stdout } = await run('tar', ['-tzf', archive]);
    expect(stdout).toBe('fine.txt\n');
  });

  it('fails the entry and the output when a streamed body does not hold the size announced', async () => {
    for (const chunk of [Buffer.alloc(10), Buffer.alloc(30)]) {
      const writer = new TarGzWriter();
      const written = pipeline(writer.output, createWriteStream(join(directory, 'short.tar.gz')));
      await expect(writer.addFile('short.bin', Readable.from([chunk]), 20)).rejects.toThrow(/bytes of the 20 announced/);
      await expect(written).rejects.toThrow(/bytes of the 20 announced/);
      await expect(writer.addFile('after.bin', Buffer.from('x'), 1)).rejects.toThrow();
    }
  });

  it('refuses a buffer of another size than announced before writing anything', async () => {
    const archive = join(directory, 'buffer.tar.gz');
    const writer = new TarGzWriter();
    const written = pipeline(writer.output, createWriteStream(archive));
    await expect(writer.addFile('short.bin', Buffer.alloc(10), 20)).rejects.toThrow(RangeError);
    await writer.addFile('whole.bin', Buffer.alloc(10), 10);
    await writer.finish();
    await written;
    expect((await run('tar', ['-tzf', archive])).stdout).toBe('whole.bin\n');
  });

  it('keeps a non-ASCII name through a PAX record', async () => {
    const archive = join(directory, 'unicode.tar.gz');
    const writer = new TarGzWriter();
    const written = pipeline(writer.output, createWriteStream(archive));
    await writer.addFile('gruppe/überprüfung.txt', Buffer.from('ü'), 2);
    await writer.finish();
    await written;
    const target = await extract(archive);
    expect((await readFile(join(target, 'gruppe/überprüfung.txt'))).toString()).toBe('ü');
  });
});
