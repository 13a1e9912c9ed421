import { InvalidArgumentError } from '../errors';
import type { Position } from '../types';

/** A place in EventStoreDB's $all: the commit position, then the prepare position within it. */
export interface EsdbPosition {
  commit: bigint;
  prepare: bigint;
}

/**
 * Before every event. EventStoreDB's log opens with an epoch record, never with an event, so no
 * event sits at 0/0 and this position can stand for the start of $all.
 */
export const LOG_START: EsdbPosition = { commit: 0n, prepare: 0n };

const FORMAT = /^C(\d{1,20})\/P(\d{1,20})$/;
const MAX = 2n ** 64n;

export function formatPosition(position: EsdbPosition): Position {
  return `C${position.commit}/P${position.prepare}`;
}

export function parsePosition(position: unknown): EsdbPosition {
  const match = typeof position === 'string' ? FORMAT.exec(position) : null;
  const parsed = match ? { commit: BigInt(match[1]), prepare: BigInt(match[2]) } : undefined;
  if (!parsed || parsed.commit >= MAX || parsed.prepare >= MAX) {
    throw new InvalidArgumentError(`not a position of this store: ${JSON.stringify(position)}`);
  }
  return parsed;
}

export function compareEsdbPositions(a: EsdbPosition, b: EsdbPosition): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

export function isLogStart(position: EsdbPosition): boolean {
  return position.commit === 0n && position.prepare === 0n;
}
