import { InvalidArgumentError } from '../errors';
import type { Position } from '../types';

/** A place in the log as the PostgreSQL adapter orders it: writing transaction id, then sequence. */
export interface LogPosition {
  tx: bigint;
  seq: bigint;
}

export const LOG_START: LogPosition = { tx: 0n, seq: 0n };

const FORMAT = /^(\d{1,20})-(\d{1,20})$/;

export function formatPosition(position: LogPosition): Position {
  return `${position.tx}-${position.seq}`;
}

export function parsePosition(position: unknown): LogPosition {
  const match = typeof position === 'string' ? FORMAT.exec(position) : null;
  const parsed = match ? { tx: BigInt(match[1]), seq: BigInt(match[2]) } : undefined;
  // tx is an xid8 (unsigned 64 bits), seq a bigint (signed).
  if (!parsed || parsed.tx >= 2n ** 64n || parsed.seq >= 2n ** 63n) {
    throw new InvalidArgumentError(`not a position of this store: ${JSON.stringify(position)}`);
  }
  return parsed;
}

export function compareLogPositions(a: LogPosition, b: LogPosition): number {
  if (a.tx !== b.tx) return a.tx < b.tx ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  return 0;
}
