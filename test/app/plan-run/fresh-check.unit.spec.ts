import { FreshCheck } from '../../../src/app/plan-run/fresh-check';

/** A check whose every run the test ends by hand. */
function controlledCheck() {
  const runs: { startedAt: number; end: () => void; fail: (error: Error) => void }[] = [];
  const check = () =>
    new Promise<void>((resolve, reject) => {
      runs.push({ startedAt: Date.now(), end: resolve, fail: reject });
    });
  return { runs, check };
}

const settledYet = async (promise: Promise<unknown>) => {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
};

const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
};

describe('FreshCheck', () => {
  it('resumes a caller only after a check that started after its call', async () => {
    const { runs, check } = controlledCheck();
    const gate = new FreshCheck(check, 0);
    const first = gate.fresh();
    await until(() => runs.length === 1);
    const later = gate.fresh();
    runs[0].end();
    await first;
    expect(await settledYet(later)).toBe(false);
    await until(() => runs.length === 2);
    runs[1].end();
    await later;
  });

  it('serves every caller that waits for the next check with one run of it', async () => {
    const { runs, check } = controlledCheck();
    const gate = new FreshCheck(check, 0);
    const first = gate.fresh();
    await until(() => runs.length === 1);
    const waiting = Array.from({ length: 20 }, () => gate.fresh());
    runs[0].end();
    await until(() => runs.length === 2);
    runs[1].end();
    await Promise.all([first, ...waiting]);
    expect(runs).toHaveLength(2);
  });

  it('starts checks no sooner than the spacing after the last start', async () => {
    const { runs, check } = controlledCheck();
    const gate = new FreshCheck(check, 50);
    const first = gate.fresh();
    await until(() => runs.length === 1);
    runs[0].end();
    await first;
    const second = gate.fresh();
    await until(() => runs.length === 2);
    runs[1].end();
    await second;
    // Timers may fire a millisecond early by Date.now's reckoning.
    expect(runs[1].startedAt - runs[0].startedAt).toBeGreaterThanOrEqual(49);
  });

  it('rejects the callers of a check that failed, and runs a new one for the next caller', async () => {
    const { runs, check } = controlledCheck();
    const gate = new FreshCheck(check, 0);
    const failing = gate.fresh();
    await until(() => runs.length === 1);
    runs[0].fail(new Error('the store is away'));
    await expect(failing).rejects.toThrow('the store is away');
    const next = gate.fresh();
    await until(() => runs.length === 2);
    runs[1].end();
    await expect(next).resolves.toBeUndefined();
  });
});
