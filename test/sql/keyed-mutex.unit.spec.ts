import { KeyedMutex, MutexTimeoutError } from '../../src/sql/keyed-mutex';

const later = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('KeyedMutex', () => {
  it('runs the holders of one key one at a time, in arrival order, and of other keys side by side', async () => {
    const mutex = new KeyedMutex();
    const order: string[] = [];
    const hold = (key: string, label: string, ms: number) =>
      mutex.run(key, async () => {
        order.push(`${label} in`);
        await later(ms);
        order.push(`${label} out`);
      });
    await Promise.all([hold('a', 'a1', 30), hold('a', 'a2', 1), hold('b', 'b1', 5)]);
    expect(order).toEqual(['a1 in', 'b1 in', 'b1 out', 'a1 out', 'a2 in', 'a2 out']);
  });

  it('gives up a turn that does not come within the time, and the queue goes on in order', async () => {
    const mutex = new KeyedMutex();
    const order: string[] = [];
    const first = mutex.run('a', async () => {
      await later(120);
      order.push('first');
    });
    const impatient = mutex.run('a', async () => order.push('impatient'), { timeoutMs: 20 });
    const patient = mutex.run('a', async () => order.push('patient'));
    await expect(impatient).rejects.toBeInstanceOf(MutexTimeoutError);
    // The patient one still waits for the first, not for the one that gave up.
    expect(order).toEqual([]);
    await Promise.all([first, patient]);
    expect(order).toEqual(['first', 'patient']);
  });

  it('takes a turn that comes within the time', async () => {
    const mutex = new KeyedMutex();
    const first = mutex.run('a', () => later(10));
    await expect(mutex.run('a', async () => 'ran', { timeoutMs: 1_000 })).resolves.toBe('ran');
    await first;
  });
});
