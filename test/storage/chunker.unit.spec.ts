import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { chunk } from '../../src/storage/chunker';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Bytes that look random, the same on every run. */
function noise(size: number, seed = 'chunker'): Buffer {
  const out = Buffer.alloc(size);
  for (let at = 0, block = 0; at < size; at += 32, block++) createHmac('sha256', seed).update(String(block)).digest().copy(out, at);
  return out;
}

async function* pieces(data: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  for (let at = 0, index = 0; at < data.length; index++) {
    const size = sizes[index % sizes.length];
    yield data.subarray(at, at + size);
    at += size;
  }
}

async function chunksOf(source: AsyncIterable<Buffer> | NodeJS.ReadableStream, options?: Parameters<typeof chunk>[1]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const piece of chunk(source, options)) out.push(piece);
  return out;
}

const hash = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The share of `after`'s bytes that are in chunks `before` has too. */
function sharedBytes(before: Buffer[], after: Buffer[]): number {
  const known = new Set(before.map(hash));
  const total = after.reduce((sum, piece) => sum + piece.length, 0);
  return after.filter((piece) => known.has(hash(piece))).reduce((sum, piece) => sum + piece.length, 0) / total;
}

const input = noise(4 * MiB);

describe('chunk', () => {
  it('cuts an input into chunks that put together give it back, each between min and max but the last', async () => {
    const chunks = await chunksOf(pieces(input, [64 * KiB]));
    expect(Buffer.concat(chunks).equals(input)).toBe(true);
    expect(chunks.length).toBeGreaterThan(4);
    for (const piece of chunks.slice(0, -1)) {
      expect(piece.length).toBeGreaterThanOrEqual(64 * KiB);
      expect(piece.length).toBeLessThanOrEqual(MiB);
    }
    expect(chunks.at(-1)!.length).toBeLessThanOrEqual(MiB);
    // Cut by content, not at a fixed size.
    expect(new Set(chunks.slice(0, -1).map((piece) => piece.length)).size).toBeGreaterThan(1);
  });

  it('cuts at max when the content never offers a cut, and hands a short input back whole', async () => {
    const zeros = Buffer.alloc(3 * MiB + 5);
    const sizes = (await chunksOf(pieces(zeros, [100_000]))).map((piece) => piece.length);
    expect(sizes).toEqual([MiB, MiB, MiB, 5]);
    expect((await chunksOf(pieces(input.subarray(0, 1000), [1000]))).map((piece) => piece.length)).toEqual([1000]);
    expect(await chunksOf(pieces(Buffer.alloc(0), [1]))).toEqual([]);
  });

  it('gives the same chunks for the same input, however it comes in pieces', async () => {
    const expected = (await chunksOf(pieces(input, [input.length]))).map(hash);
    expect((await chunksOf(pieces(input, [64 * KiB]))).map(hash)).toEqual(expected);
    expect((await chunksOf(pieces(input, [1, 7, 4099, 333_333, 1_048_577, 13]))).map(hash)).toEqual(expected);
    expect((await chunksOf(Readable.from(pieces(input, [65_537])))).map(hash)).toEqual(expected);
    expect(await chunksOf(pieces(input, [3 * MiB])).then((chunks) => chunks.map(hash))).toEqual(expected);
  });

  it('keeps the chunks away from an insertion: 100 bytes at 10 KiB of 4 MiB leave at least 90% of the bytes in shared chunks', async () => {
    const edited = Buffer.concat([input.subarray(0, 10 * KiB), noise(100, 'inserted'), input.subarray(10 * KiB)]);
    const before = await chunksOf(pieces(input, [64 * KiB]));
    const after = await chunksOf(pieces(edited, [64 * KiB]));
    expect(sharedBytes(before, after)).toBeGreaterThanOrEqual(0.9);

    const small = { min: 2 * KiB, avg: 8 * KiB, max: 32 * KiB };
    const middle = Buffer.concat([input.subarray(0, 2 * MiB), noise(100, 'inserted'), input.subarray(2 * MiB)]);
    const shared = sharedBytes(await chunksOf(pieces(input, [64 * KiB]), small), await chunksOf(pieces(middle, [64 * KiB]), small));
    expect(shared).toBeGreaterThanOrEqual(0.98);
    expect(shared).toBeLessThan(1);
  });

  it('shares nothing with different content', async () => {
    expect(sharedBytes(await chunksOf(pieces(input, [MiB])), await chunksOf(pieces(noise(4 * MiB, 'other'), [MiB])))).toBe(0);
  });

  it('keeps to the sizes asked for', async () => {
    const sizes = { min: 4 * KiB, avg: 16 * KiB, max: 64 * KiB };
    const chunks = await chunksOf(pieces(input, [10_000]), sizes);
    expect(Buffer.concat(chunks).equals(input)).toBe(true);
    for (const piece of chunks.slice(0, -1)) {
      expect(piece.length).toBeGreaterThanOrEqual(4 * KiB);
      expect(piece.length).toBeLessThanOrEqual(64 * KiB);
    }
    const average = input.length / chunks.length;
    expect(average).toBeGreaterThan(8 * KiB);
    expect(average).toBeLessThan(32 * KiB);
  });

  it('refuses sizes out of order', async () => {
    await expect(chunksOf(pieces(input, [KiB]), { min: 10 * KiB, avg: 8 * KiB, max: 32 * KiB })).rejects.toThrow(/min < avg < max/);
    await expect(chunksOf(pieces(input, [KiB]), { min: 1, avg: 8 * KiB, max: 32 * KiB })).rejects.toThrow();
  });

  it('is fast enough to keep up with a disk: 8 MiB in well under 2 seconds', async () => {
    const big = Buffer.concat([input, input]);
    const started = process.hrtime.bigint();
    const chunks = await chunksOf(pieces(big, [64 * KiB]));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    expect(Buffer.concat(chunks).length).toBe(big.length);
    expect(seconds).toBeLessThan(2);
  });
});
