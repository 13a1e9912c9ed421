import { workThrough } from '../../../src/app/plan-run/workers';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('workThrough', () => {
  it('works through every item in order, never more at a time than asked', async () => {
    const taken: number[] = [];
    let inFlight = 0;
    let most = 0;
    await workThrough(
      [1, 2, 3, 4, 5, 6, 7],
      3,
      async (item) => {
        taken.push(item);
        most = Math.max(most, ++inFlight);
        await tick();
        inFlight -= 1;
      },
      () => false,
    );
    expect(taken).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });

  it.each([0, -2])('works one at a time when asked for %i', async (concurrency) => {
    const taken: number[] = [];
    await workThrough(
      [1, 2],
      concurrency,
      async (item) => void taken.push(item),
      () => false,
    );
    expect(taken).toEqual([1, 2]);
  });

  it('takes up no item once halted, and lets those under way finish', async () => {
    const finished: number[] = [];
    let halted = false;
    await workThrough(
      [1, 2, 3, 4, 5],
      2,
      async (item) => {
        if (item === 2) halted = true;
        await tick();
        finished.push(item);
      },
      () => halted,
    );
    expect(finished.sort()).toEqual([1, 2]);
  });

  it('does nothing for no items', async () => {
    const work = jest.fn(async () => undefined);
    await workThrough([], 4, work, () => false);
    expect(work).not.toHaveBeenCalled();
  });
});
