import { Turns } from '../../src/server/subscription-fan-out';

describe('Turns', () => {
  it('serves a burst a slice at a time, in the order asked, with other work of the event loop run between slices', async () => {
    const turns = new Turns(100);
    const order: string[] = [];
    const served = Array.from({ length: 250 }, (_, index) => {
      const go = () => order.push(`subscriber ${index}`);
      const turn = turns.take();
      if (turn) return turn.then(go);
      go();
      return Promise.resolve();
    });
    // What another request would do once it gets the event loop.
    setImmediate(() => order.push('other work'));
    await Promise.all(served);

    expect(order.filter((item) => item !== 'other work')).toEqual(Array.from({ length: 250 }, (_, index) => `subscriber ${index}`));
    const other = order.indexOf('other work');
    expect(other).toBeGreaterThanOrEqual(100);
    expect(other).toBeLessThan(order.length - 1);
  });

  it('lets a caller go on at once while the turn has room, and again after the turn is over', async () => {
    const turns = new Turns(2);
    expect(turns.take()).toBeNull();
    expect(turns.take()).toBeNull();
    const third = turns.take();
    expect(third).toBeInstanceOf(Promise);
    await third;
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(turns.take()).toBeNull();
  });
});
