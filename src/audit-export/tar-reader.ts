import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';

export interface TarEntry {
  name: string;
  size: number;
  /** The file's bytes, to be read to the end (or not at all) before the next entry is asked for. */
  body: AsyncGenerator<Buffer>;
}

const BLOCK = 512;

/**
 * The regular files of a .tar.gz (ustar, with PAX names and sizes), one after another, their
 * bodies streamed: an archive larger than memory is read in flat memory.
 */
export async function* readTarGz(path: string): AsyncGenerator<TarEntry> {
  const bytes = new ByteReader(createReadStream(path).pipe(createGunzip())[Symbol.asyncIterator]());
  let pax: Record<string, string> = {};
  while (true) {
    const header = await bytes.take(BLOCK);
    if (header === null || header.every((byte) => byte === 0)) return;
    const type = String.fromCharCode(header[156] || 0x30);
    const size = Number(pax.size ?? Number.parseInt(field(header, 124, 12) || '0', 8));
    const prefix = field(header, 345, 155);
    // `tar -C dir .` writes ./events.jsonl: the same file as events.jsonl.
    const name = (pax.path ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100))).replace(/^(?:\.\/)+/, '');
    const padded = size + ((BLOCK - (size % BLOCK)) % BLOCK);
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`the archive is damaged: a header announces a size of ${size}`);
    if (type === 'x') {
      const records = await bytes.take(padded);
      if (records === null) throw new Error('the archive ends inside a PAX header');
      pax = parsePax(records.subarray(0, size).toString('utf8'));
      continue;
    }
    pax = {};
    if (type !== '0' && type !== '\0') {
      if ((await bytes.skip(padded)) === false) throw new Error(`the archive ends inside ${name}`);
      continue;
    }
    let left = size;
    let consumed = false;
    const body = (async function* () {
      consumed = true;
      while (left > 0) {
        const chunk = await bytes.some(left);
        if (chunk === null) throw new Error(`the archive ends inside ${name}`);
        left -= chunk.length;
        yield chunk;
      }
    })();
    yield { name, size, body };
    if (!consumed || left > 0) {
      if ((await bytes.skip(left)) === false) throw new Error(`the archive ends inside ${name}`);
    }
    if ((await bytes.skip(padded - size)) === false) throw new Error(`the archive ends after ${name}`);
  }
}

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw
    .subarray(0, end === -1 ? length : end)
    .toString('utf8')
    .trim();
}

/** PAX records: "<length> <key>=<value>\n". */
function parsePax(text: string): Record<string, string> {
  const records: Record<string, string> = {};
  let at = 0;
  while (at < text.length) {
    const space = text.indexOf(' ', at);
    const length = Number.parseInt(text.slice(at, space), 10);
    if (!(length > 0)) break;
    const record = text.slice(space + 1, at + length - 1);
    const equals = record.indexOf('=');
    records[record.slice(0, equals)] = record.slice(equals + 1);
    at += length;
  }
  return records;
}

/** Takes bytes off a stream of chunks in the amounts asked for. */
class ByteReader {
  #pending: Buffer = Buffer.alloc(0);
  constructor(private readonly source: AsyncIterator<Buffer>) {}

  async #fill(): Promise<boolean> {
    const next = await this.source.next();
    if (next.done) return false;
    this.#pending = this.#pending.length === 0 ? next.value : Buffer.concat([this.#pending, next.value]);
    return true;
  }

  /** Exactly n bytes, or null at the end of the stream. */
  async take(n: number): Promise<Buffer | null> {
    while (this.#pending.length < n) if (!(await this.#fill())) return null;
    const out = this.#pending.subarray(0, n);
    this.#pending = this.#pending.subarray(n);
    return out;
  }

  /** Between 1 and n bytes, or null at the end of the stream. */
  async some(n: number): Promise<Buffer | null> {
    if (this.#pending.length === 0 && !(await this.#fill())) return null;
    const out = this.#pending.subarray(0, Math.min(n, this.#pending.length));
    this.#pending = this.#pending.subarray(out.length);
    return out;
  }

  async skip(n: number): Promise<boolean> {
    let left = n;
    while (left > 0) {
      const chunk = await this.some(left);
      if (chunk === null) return false;
      left -= chunk.length;
    }
    return true;
  }
}
