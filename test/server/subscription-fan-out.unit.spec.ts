import { GraphQLInt, GraphQLObjectType, GraphQLSchema, parse } from 'graphql';
import { SubscriptionFanOut, Turns } from '../../src/server/subscription-fan-out';

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

describe('SubscriptionFanOut', () => {
  /** A subscription field `ticks` whose source yields what is pushed to it, until returned. */
  function ticking() {
    const pushed: number[] = [];
    const waiting: ((result: IteratorResult<{ ticks: number }>) => void)[] = [];
    let ended = false;
    const source: AsyncIterableIterator<{ ticks: number }> = {
      next: () => {
        const value = pushed.shift();
        if (value !== undefined) return Promise.resolve({ value: { ticks: value }, done: false });
        if (ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => waiting.push(resolve));
      },
      return: () => {
        ended = true;
        for (const resolve of waiting.splice(0)) resolve({ value: undefined, done: true });
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => source,
    };
    const push = (value: number) => {
      if (ended) return;
      const resolve = waiting.shift();
      if (resolve) resolve({ value: { ticks: value }, done: false });
      else pushed.push(value);
    };
    const schema = new GraphQLSchema({
      query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLInt } } }),
      subscription: new GraphQLObjectType({
        name: 'Subscription',
        fields: { ticks: { type: GraphQLInt, subscribe: () => source } },
      }),
    });
    return { schema, push };
  }

  it('answers done, not the value, to a next() that waited for its turn while the subscription was returned', async () => {
    const { schema, push } = ticking();
    const turns = new Turns(1);
    const fanOut = new SubscriptionFanOut(turns);
    const subscribed = await fanOut.subscribe({ schema, document: parse('subscription { ticks }') }, null);
    if (!(Symbol.asyncIterator in subscribed)) throw new Error(`not subscribed: ${JSON.stringify(subscribed)}`);
    // Another subscriber takes this turn's only place: this one's delivery waits for the next turn.
    expect(turns.take()).toBeNull();
    push(1);
    const delivery = subscribed.next();
    // Long enough for the event to reach the turns, not for the next turn (a setImmediate) to come.
    for (let tick = 0; tick < 20; tick += 1) await Promise.resolve();
    await expect(subscribed.return?.()).resolves.toEqual({ value: undefined, done: true });
    await expect(delivery).resolves.toEqual({ value: undefined, done: true });
    await expect(subscribed.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('hands each value on until the subscription is returned', async () => {
    const { schema, push } = ticking();
    const fanOut = new SubscriptionFanOut(new Turns(10));
    const subscribed = await fanOut.subscribe({ schema, document: parse('subscription { ticks }') }, null);
    if (!(Symbol.asyncIterator in subscribed)) throw new Error(`not subscribed: ${JSON.stringify(subscribed)}`);
    push(1);
    push(2);
    await expect(subscribed.next()).resolves.toEqual({ value: { data: { ticks: 1 } }, done: false });
    await expect(subscribed.next()).resolves.toEqual({ value: { data: { ticks: 2 } }, done: false });
    await subscribed.return?.();
    push(3);
    await expect(subscribed.next()).resolves.toEqual({ value: undefined, done: true });
  });
});
