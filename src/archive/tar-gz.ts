import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { createGzip, type Gzip } from 'node:zlib';

const BLOCK = 512;
/** The largest value the 12-byte octal size field of a ustar header holds; a larger size goes into a PAX record. */
const USTAR_MAX_SIZE = 0o77777777777;

/**
 * Writes a .tar.gz archive as a stream, one file after another, so a body of any size passes through
 * without being held in memory. Read `output` while adding files: a write waits while the reader lags.
 * Files are added one at a time; calls made meanwhile wait their turn.
 */
export class TarGzWriter {
  /** The gzip-compressed tar bytes. */
  readonly output: Readable;
  readonly #gzip: Gzip;
  #queue: Promise<void> = Promise.resolve();
  #finished = false;

  constructor(options: { level?: number } = {}) {
    this.#gzip = createGzip({ level: options.level });
    this.output = this.#gzip;
  }

  /** Adds a regular file (mode 0644, owner 0:0). The body must hold exactly `size` bytes. */
  addFile(name: string, body: Buffer | Readable, size: number, mtime: Date = new Date()): Promise<void> {
    let header: Buffer;
    try {
      if (this.#finished) throw new Error('the archive is already finished');
      header = headerBlocks(name, size, mtime);
      if (Buffer.isBuffer(body) && body.length !== size) throw new RangeError(`the body of ${JSON.stringify(name)} holds ${body.length} bytes, not ${size}`);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue(async () => {
      await this.#write(header);
      let written = 0;
      if (Buffer.isBuffer(body)) {
        written = body.length;
        await this.#write(body);
      } else {
        for await (const chunk of body) {
          const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
          written += bytes.length;
          if (written > size) break;
          await this.#write(bytes);
        }
      }
      if (written !== size) {
        throw new Error(`the body of ${JSON.stringify(name)} holds ${written > size ? 'at least' : 'only'} ${written} bytes of the ${size} announced`);
      }
      await this.#write(Buffer.alloc(padding(size)));
    });
  }

  /** Writes the end-of-archive blocks and resolves once the reader has taken everything in. */
  finish(): Promise<void> {
    if (this.#finished) return Promise.reject(new Error('the archive is already finished'));
    this.#finished = true;
    return this.#enqueue(async () => {
      await this.#write(Buffer.alloc(2 * BLOCK));
      const done = once(this.#gzip, 'finish');
      this.#gzip.end();
      await done;
    });
  }

  /** Runs one step after the previous ones; a failed step leaves a truncated archive, so the output fails with it. */
  #enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(async () => {
      try {
        await step();
      } catch (error) {
        this.#gzip.destroy(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #write(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    if (this.#gzip.destroyed) throw new Error('the archive output was closed');
    if (this.#gzip.write(chunk)) return;
    const gzip = this.#gzip;
    await new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        gzip.off('drain', onDrain).off('close', onClose).off('error', settle);
        if (error) reject(error);
        else resolve();
      };
      const onDrain = () => settle();
      const onClose = () => settle(new Error('the archive output was closed'));
      gzip.on('drain', onDrain).on('close', onClose).on('error', settle);
    });
  }
}

/** The header of a file, preceded by a PAX extended header when its name or size does not fit a ustar header. */
function headerBlocks(name: string, size: number, mtime: Date): Buffer {
  checkName(name);
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`not a file size: ${size}`);
  const seconds = Math.floor(mtime.getTime() / 1000);
  if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds > USTAR_MAX_SIZE) throw new RangeError(`not a file time: ${mtime}`);

  const records: string[] = [];
  const nameBytes = Buffer.byteLength(name);
  if (nameBytes > 100 || /[^\x20-\x7e]/.test(name)) records.push(paxRecord('path', name));
  if (size > USTAR_MAX_SIZE) records.push(paxRecord('size', String(size)));
  const ustarName = nameBytes > 100 || /[^\x20-\x7e]/.test(name) ? asciiStandIn(name) : name;
  const file = ustarHeader(ustarName, size > USTAR_MAX_SIZE ? 0 : size, seconds, '0');
  if (records.length === 0) return file;

  const pax = Buffer.from(records.join(''));
  const paxHeader = ustarHeader(asciiStandIn(`PaxHeaders/${name}`), pax.length, seconds, 'x');
  return Buffer.concat([paxHeader, pax, Buffer.alloc(padding(pax.length)), file]);
}

function ustarHeader(name: string, size: number, mtime: number, type: '0' | 'x'): Buffer {
  const header = Buffer.alloc(BLOCK);
  header.write(name, 0, 100, 'utf8');
  octal(header, 100, 8, 0o644);
  octal(header, 108, 8, 0);
  octal(header, 116, 8, 0);
  octal(header, 124, 12, size);
  octal(header, 136, 12, mtime);
  header.write(type, 156, 1, 'ascii');
  header.write('ustar\u000000', 257, 8, 'ascii');
  // The checksum is the sum of the header's bytes with its own field counted as eight spaces.
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return header;
}

function octal(header: Buffer, offset: number, length: number, value: number): void {
  header.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, length, 'ascii');
}

/** A PAX record is "<length> <key>=<value>\n", where the length counts the whole record, its own digits included. */
function paxRecord(key: string, value: string): string {
  const rest = Buffer.byteLength(` ${key}=${value}\n`);
  let length = rest + 1;
  while (length !== rest + String(length).length) length = rest + String(length).length;
  return `${length} ${key}=${value}\n`;
}

/** What a reader without PAX support shows instead of a long or non-ASCII name: a printable prefix of it. */
function asciiStandIn(name: string): string {
  return name.replace(/[^\x20-\x7e]/g, '_').slice(0, 100);
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** A name that extracts inside the target folder as a regular file: relative, without '..', empty segments or NUL. */
function checkName(name: string): void {
  if (name === '' || name.includes('\u0000')) throw new RangeError(`not an archive name: ${JSON.stringify(name)}`);
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.includes('\\')) throw new RangeError(`not a relative archive name: ${JSON.stringify(name)}`);
  const segments = name.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new RangeError(`an archive name may not hold '..', '.' or empty segments: ${JSON.stringify(name)}`);
  }
}
