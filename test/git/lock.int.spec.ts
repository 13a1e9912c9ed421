import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLock } from '../../src/git/lock';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('withLock', () => {
  let work: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'git-lock-spec-'));
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('lets one holder in at a time, and removes the lock after, failed work included', async () => {
    const path = join(work, 'turns.lock');
    let inside = 0;
    let most = 0;
    const hold = async () => {
      inside += 1;
      most = Math.max(most, inside);
      await sleep(50);
      inside -= 1;
    };
    const options = { staleMs: 60_000, deadline: Date.now() + 10_000 };
    await Promise.all([1, 2, 3, 4].map(() => withLock(path, options, hold)));
    expect(most).toBe(1);
    expect(existsSync(path)).toBe(false);
    await expect(withLock(path, options, async () => Promise.reject(new Error('failed work')))).rejects.toThrow('failed work');
    expect(existsSync(path)).toBe(false);
  });

  it("touches the lock while the work runs, so a waiter does not take it for a dead holder's", async () => {
    const path = join(work, 'beat.lock');
    const options = { staleMs: 900, deadline: Date.now() + 10_000 };
    let takenWhileHeld = false;
    let firstDone = false;
    const first = withLock(path, options, async () => {
      const at = statSync(path).mtimeMs;
      await sleep(2000);
      expect(statSync(path).mtimeMs).toBeGreaterThan(at);
      firstDone = true;
    });
    await sleep(50);
    const second = withLock(path, options, async () => {
      takenWhileHeld = !firstDone;
    });
    await Promise.all([first, second]);
    expect(takenWhileHeld).toBe(false);
  });
});
