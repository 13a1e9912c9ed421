/**
 * Works through `items` in order, at most `concurrency` at a time (at least one). Once `halted()`
 * says so, no item is taken up; those under way finish.
 */
export async function workThrough<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>, halted: () => boolean): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !halted()) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}
