import { removeWhileHeld } from '../../../src/app/backup/prune';

describe('a prune removing objects', () => {
  const entries = Array.from({ length: 6 }, (_, index) => ({ name: `object-${index}`, size: 10 + index }));

  it('checks that it still holds its storage before the first removal and then every second', async () => {
    let clock = 0;
    const checks: number[] = [];
    const removed: string[] = [];
    const outcome = { objectsRemoved: 0, bytesFreed: 0 };
    await removeWhileHeld(
      entries,
      async (name) => {
        removed.push(name);
        clock += 400;
      },
      async () => {
        checks.push(clock);
      },
      outcome,
      () => clock,
    );
    expect(removed).toEqual(entries.map((entry) => entry.name));
    expect(checks).toEqual([0, 1200]);
    expect(outcome).toEqual({ objectsRemoved: 6, bytesFreed: 75 });
  });

  it('stops at once, counting what it removed, when another prune has taken it for gone', async () => {
    let clock = 0;
    const removed: string[] = [];
    const outcome = { objectsRemoved: 0, bytesFreed: 0 };
    const attempt = removeWhileHeld(
      entries,
      async (name) => {
        removed.push(name);
        clock += 700;
      },
      async () => {
        if (clock > 0) throw new Error('taken for gone');
      },
      outcome,
      () => clock,
    );
    await expect(attempt).rejects.toThrow('taken for gone');
    expect(removed).toEqual(['object-0', 'object-1']);
    expect(outcome).toEqual({ objectsRemoved: 2, bytesFreed: 21 });
  });
});
