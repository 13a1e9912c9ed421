import { KeyedLocks, type LockRequest } from '../../src/sql/keyed-locks';
import { MutexTimeoutError } from '../../src/sql/keyed-mutex';

/** A holder that stays in until let out, recording when it entered. */
function holder(locks: KeyedLocks, requests: LockRequest[], label: string, order: string[], options: { timeoutMs?: number } = {}) {
  let letOut!: () => void;
  const out = new Promise<void>((resolve) => (letOut = resolve));
  let entered = false;
  const done = locks.run(
    requests,
    async () => {
      entered = true;
      order.push(`${label} in`);
      await out;
      order.push(`${label} out`);
    },
    options,
  );
  return { done, letOut, isIn: () => entered };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('KeyedLocks', () => {
  it('lets shared holders of a name in together, and an exclusive one only once they are all out', async () => {
    const locks = new KeyedLocks();
    const order: string[] = [];
    const a = holder(locks, [{ name: 't', shared: true }], 'a', order);
    const b = holder(locks, [{ name: 't', shared: true }], 'b', order);
    const x = holder(locks, [{ name: 't' }], 'x', order);
    await turn();
    expect([a.isIn(), b.isIn(), x.isIn()]).toEqual([true, true, false]);
    a.letOut();
    await a.done;
    expect(x.isIn()).toBe(false);
    b.letOut();
    await b.done;
    await turn();
    expect(x.isIn()).toBe(true);
    x.letOut();
    await x.done;
  });

  it('makes a shared request that arrives behind a waiting exclusive one wait too, so the exclusive one is not starved', async () => {
    const locks = new KeyedLocks();
    const order: string[] = [];
    const a = holder(locks, [{ name: 't', shared: true }], 'a', order);
    const x = holder(locks, [{ name: 't' }], 'x', order);
    const late = holder(locks, [{ name: 't', shared: true }], 'late', order);
    await turn();
    expect([a.isIn(), x.isIn(), late.isIn()]).toEqual([true, false, false]);
    a.letOut();
    await a.done;
    await turn();
    expect([x.isIn(), late.isIn()]).toEqual([true, false]);
    x.letOut();
    await x.done;
    await turn();
    expect(late.isIn()).toBe(true);
    late.letOut();
    await late.done;
    expect(order).toEqual(['a in', 'a out', 'x in', 'x out', 'late in', 'late out']);
  });

  it('lets holders of a shared name and different own names go side by side, and those of the same own name take turns', async () => {
    const locks = new KeyedLocks();
    const order: string[] = [];
    const scoped = (scope: string, label: string) => holder(locks, [{ name: 't', shared: true }, { name: `t:${scope}` }], label, order);
    const c1 = scoped('c1', 'c1');
    const c2 = scoped('c2', 'c2');
    const c1again = scoped('c1', 'c1 again');
    await turn();
    expect([c1.isIn(), c2.isIn(), c1again.isIn()]).toEqual([true, true, false]);
    c1.letOut();
    await c1.done;
    await turn();
    expect(c1again.isIn()).toBe(true);
    c2.letOut();
    c1again.letOut();
    await Promise.all([c2.done, c1again.done]);
  });

  it('gives up within the time, lets go of what it had taken, and the queue goes on', async () => {
    const locks = new KeyedLocks();
    const order: string[] = [];
    const blocker = holder(locks, [{ name: 't:c1' }], 'blocker', order);
    await turn();
    // It takes the shared name, then waits for the own name in vain.
    await expect(locks.run([{ name: 't', shared: true }, { name: 't:c1' }], async () => 'never', { timeoutMs: 30 })).rejects.toBeInstanceOf(MutexTimeoutError);
    // The shared name is free again: an exclusive holder gets in at once.
    expect(await locks.run([{ name: 't' }], async () => 'alone', { timeoutMs: 1000 })).toBe('alone');
    // A waiter that gave up does not hold back the one behind it.
    const impatient = locks.run([{ name: 't:c1' }], async () => 'never', { timeoutMs: 20 });
    const patient = holder(locks, [{ name: 't:c1' }], 'patient', order);
    await expect(impatient).rejects.toBeInstanceOf(MutexTimeoutError);
    blocker.letOut();
    await blocker.done;
    await turn();
    expect(patient.isIn()).toBe(true);
    patient.letOut();
    await patient.done;
  });

  it('lets go when fn fails', async () => {
    const locks = new KeyedLocks();
    await expect(locks.run([{ name: 't' }], async () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    expect(await locks.run([{ name: 't' }], async () => 'free', { timeoutMs: 100 })).toBe('free');
  });
});
