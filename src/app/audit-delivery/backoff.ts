/** How long to wait before the next attempt after `attempts` failed in a row: doubling from minMs, never more than maxMs. */
export function backoffMs(attempts: number, minMs: number, maxMs: number): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  return Math.min(minMs * 2 ** exponent, maxMs);
}
