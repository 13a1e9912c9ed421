import { createHash } from 'node:crypto';

export interface ChunkSizes {
  min?: number;
  avg?: number;
  max?: number;
}

const DEFAULTS = { min: 64 * 1024, avg: 256 * 1024, max: 1024 * 1024 };

/**
 * The gear table: one 32-bit value per byte value. Derived from a fixed seed so that a chunk's
 * boundaries, and so which objects are shared between two snapshots, never change between runs.
 */
const GEAR = (() => {
  const table = new Int32Array(256);
  for (let value = 0; value < 256; value++) table[value] = createHash('sha256').update(`backplane gear ${value}`).digest().readInt32BE(0);
  return table;
})();

/**
 * Cuts a stream into content-defined chunks (FastCDC: a gear rolling hash with normalized chunking),
 * so that bytes inserted or removed change only the chunks around them and the rest dedupe. A cut
 * depends only on the last 32 bytes and the distance from the chunk's start, never on how the
 * stream was split into pieces. At most `max` bytes of the stream are held (in a buffer of twice that), besides the chunk handed out.
 */
export async function* chunk(source: AsyncIterable<Buffer | Uint8Array | string> | NodeJS.ReadableStream, options: ChunkSizes = {}): AsyncGenerator<Buffer> {
  const sizes = checked({ ...DEFAULTS, ...options });
  const cutter = new Cutter(sizes);
  // Twice the largest chunk: moving the unchunked rest to the front happens after at least `max` bytes were cut.
  const window = Buffer.allocUnsafe(2 * sizes.max);
  let start = 0;
  let end = 0;
  for await (const item of source as AsyncIterable<Buffer | Uint8Array | string>) {
    const piece = typeof item === 'string' ? Buffer.from(item) : item;
    let read = 0;
    while (read < piece.length) {
      if (end === window.length) {
        window.copyWithin(0, start, end);
        end -= start;
        start = 0;
      }
      const taken = Math.min(piece.length - read, start + sizes.max - end, window.length - end);
      window.set(piece.subarray(read, read + taken), end);
      read += taken;
      end += taken;
      // Only with `max` bytes at hand is a cut the one the whole stream would give.
      if (end - start === sizes.max) {
        const length = cutter.cut(window, start, sizes.max);
        yield Buffer.from(window.subarray(start, start + length));
        start += length;
      }
    }
  }
  while (start < end) {
    const length = cutter.cut(window, start, end - start);
    yield Buffer.from(window.subarray(start, start + length));
    start += length;
  }
}

class Cutter {
  private readonly min: number;
  private readonly normal: number;
  private readonly hardMask: number;
  private readonly easyMask: number;

  constructor(sizes: Required<ChunkSizes>) {
    const bits = Math.round(Math.log2(sizes.avg));
    this.min = sizes.min;
    this.normal = sizes.avg;
    // The mask's bits are the hash's highest: each depends on the most bytes (bit 31 on the last 32).
    this.hardMask = topBits(bits + 2);
    this.easyMask = topBits(bits - 2);
  }

  /** The length of the chunk starting at `from`, of the `available` bytes (all of them when fewer than the largest chunk). */
  cut(data: Uint8Array, from: number, available: number): number {
    if (available <= this.min) return available;
    // Locals, not fields, in the loops: this is where the time goes.
    const gear = GEAR;
    const hard = this.hardMask;
    const easy = this.easyMask;
    const normal = from + Math.min(this.normal, available);
    const end = from + available;
    let hash = 0;
    let at = from + this.min;
    for (; at < normal; at++) {
      hash = ((hash << 1) + gear[data[at]]) | 0;
      if ((hash & hard) === 0) return at + 1 - from;
    }
    for (; at < end; at++) {
      hash = ((hash << 1) + gear[data[at]]) | 0;
      if ((hash & easy) === 0) return at + 1 - from;
    }
    return available;
  }
}

function topBits(count: number): number {
  return (0xffffffff << (32 - count)) | 0;
}

function checked(sizes: Required<ChunkSizes>): Required<ChunkSizes> {
  const { min, avg, max } = sizes;
  const whole = [min, avg, max].every((size) => Number.isSafeInteger(size));
  if (!whole || min < 64 || !(min < avg && avg < max) || avg > 2 ** 28) {
    throw new Error(`chunk sizes must be whole numbers with 64 <= min < avg < max and avg <= 256 MiB (got ${min}, ${avg}, ${max})`);
  }
  return sizes;
}
