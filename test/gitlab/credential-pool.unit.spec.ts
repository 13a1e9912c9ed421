import { CredentialPool, type PoolMember } from '../../src/gitlab/credential-pool';
import { GitLabError, type RateLimitState } from '../../src/gitlab/types';

/** Time that moves only when the test says, with timers that fire in order. */
class FakeClock {
  time = Date.UTC(2030, 0, 1);
  private timers: { at: number; resolve: () => void }[] = [];
  readonly now = () => this.time;
  readonly sleep = (ms: number) => new Promise<void>((resolve) => this.timers.push({ at: this.time + Math.max(0, ms), resolve }));

  /** Lets every promise that can move, move. */
  async settle(): Promise<void> {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  }

  /** Fires timers in order until `promise` settles; throws when nothing is left to fire. */
  async until<T>(promise: Promise<T>): Promise<T> {
    let done = false;
    promise.then(
      () => (done = true),
      () => (done = true),
    );
    for (;;) {
      await this.settle();
      if (done) return promise;
      if (!this.fireNext()) throw new Error('deadlock: nothing left to wait for');
    }
  }

  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    for (;;) {
      await this.settle();
      const next = this.nextAt();
      if (next === null || next > target) break;
      this.fireNext();
    }
    this.time = target;
    await this.settle();
  }

  private nextAt(): number | null {
    return this.timers.length === 0 ? null : Math.min(...this.timers.map((t) => t.at));
  }

  private fireNext(): boolean {
    const at = this.nextAt();
    if (at === null) return false;
    this.time = Math.max(this.time, at);
    const due = this.timers.filter((t) => t.at === at);
    this.timers = this.timers.filter((t) => t.at !== at);
    for (const t of due) t.resolve();
    return true;
  }
}

/**
 * A token on a GitLab with fixed rate-limit windows: each call arrives after half its latency,
 * is counted in the window it arrives in, and its answer (429 past the limit) comes back after
 * the other half, reported to the pool as a client's onResponse would.
 */
class FakeToken {
  served = 0;
  refused = 0;
  rateLimit: RateLimitState = { limit: null, remaining: null, resetAt: null };
  private windowStart = -1;
  private count = 0;

  constructor(
    private readonly clock: FakeClock,
    readonly key: string,
    private readonly pool: CredentialPool<FakeToken>,
    private readonly rule: { limit: number; windowMs: number; latencyMs: number; clockBehindMs?: number },
  ) {}

  async call(): Promise<string> {
    await this.clock.sleep(this.rule.latencyMs / 2);
    const now = this.clock.now() - (this.rule.clockBehindMs ?? 0);
    const start = now - (now % this.rule.windowMs);
    if (start !== this.windowStart) {
      this.windowStart = start;
      this.count = 0;
    }
    this.count += 1;
    const resetAt = start + this.rule.windowMs;
    const state: RateLimitState = { limit: this.rule.limit, remaining: Math.max(0, this.rule.limit - this.count), resetAt: new Date(resetAt) };
    const limited = this.count > this.rule.limit;
    await this.clock.sleep(this.rule.latencyMs / 2);
    this.rateLimit = state;
    this.pool.observe(this.key, state);
    if (limited) {
      this.refused += 1;
      throw new GitLabError('RATE_LIMITED', 'GitLab answered GET /x with 429', {
        status: 429,
        retryAfterMs: Math.ceil((resetAt - now) / 1000) * 1000,
        rateLimit: state,
      });
    }
    this.served += 1;
    return this.key;
  }
}

interface Scripted {
  calls: number;
  call(): Promise<string>;
}

/** A member whose answers the test writes. */
function scripted(key: string, answer: (n: number) => Promise<string>): PoolMember<Scripted> {
  const client: Scripted = {
    calls: 0,
    call() {
      client.calls += 1;
      return answer(client.calls);
    },
  };
  return { key, client };
}

const rateLimited = (retryAfterMs: number) => new GitLabError('RATE_LIMITED', 'GitLab answered GET /x with 429', { status: 429, retryAfterMs });
const state = (remaining: number, limit: number, resetAt: number): RateLimitState => ({ limit, remaining, resetAt: new Date(resetAt) });

describe('CredentialPool', () => {
  let clock: FakeClock;
  beforeEach(() => {
    clock = new FakeClock();
  });

  it('hands a request to the member with the most quota left, and none beyond what it has left', async () => {
    const pool = new CredentialPool<Scripted>({ now: clock.now, sleep: clock.sleep });
    const hold = clock.sleep(10_000);
    pool.add(
      scripted('a', async () => {
        await hold;
        return 'a';
      }),
    );
    pool.add(
      scripted('b', async () => {
        await hold;
        return 'b';
      }),
    );
    const reset = clock.time + 60_000;
    pool.observe('a', state(9, 10, reset));
    pool.observe('b', state(3, 10, reset));

    const runs = Array.from({ length: 6 }, () => pool.run((m) => m.client.call()));
    await clock.settle();
    // a has 9 left and b 3: a takes requests until it too has 3 left.
    expect(pool.usage()).toEqual([
      { key: 'a', requests: 6 },
      { key: 'b', requests: 0 },
    ]);
    const more = Array.from({ length: 6 }, () => pool.run((m) => m.client.call()));
    await clock.settle();
    // Then they alternate, down to 0 each.
    expect(pool.usage()).toEqual([
      { key: 'a', requests: 9 },
      { key: 'b', requests: 3 },
    ]);
    // A 13th waits while those are out.
    const last = pool.run((m) => m.client.call());
    await clock.settle();
    expect(pool.usage().reduce((n, u) => n + u.requests, 0)).toBe(12);
    await clock.until(Promise.all([...runs, ...more, last]));
    expect(pool.usage().reduce((n, u) => n + u.requests, 0)).toBe(13);
  });

  it('hands members that send no rate-limit headers out in turn', async () => {
    const pool = new CredentialPool<Scripted>({ now: clock.now, sleep: clock.sleep });
    for (const key of ['a', 'b', 'c']) pool.add(scripted(key, async () => key));
    const used: string[] = [];
    for (let i = 0; i < 9; i++) used.push(await clock.until(pool.run((m) => m.client.call())));
    expect(used).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('moves a request to another member on RATE_LIMITED and rests the first until its Retry-After', async () => {
    const throttled: [string, number][] = [];
    const pool = new CredentialPool<Scripted>({ now: clock.now, sleep: clock.sleep, onThrottled: (key, until) => throttled.push([key, until.getTime()]) });
    const a = scripted('a', async () => {
      throw rateLimited(5_000);
    });
    const b = scripted('b', async () => 'b');
    pool.add(a);
    pool.add(b);
    const start = clock.time;

    await expect(clock.until(pool.run((m) => m.client.call()))).resolves.toBe('b');
    expect(throttled).toEqual([['a', start + 5_000]]);
    // While a rests, everything goes to b.
    for (let i = 0; i < 3; i++) await clock.until(pool.run((m) => m.client.call()));
    expect(a.client.calls).toBe(1);
    expect(b.client.calls).toBe(4);
    expect(pool.usage()).toEqual([
      { key: 'a', requests: 1 },
      { key: 'b', requests: 4 },
    ]);
  });

  it('passes on failures other than RATE_LIMITED without trying another member', async () => {
    const pool = new CredentialPool<Scripted>({ now: clock.now, sleep: clock.sleep });
    const a = scripted('a', async () => {
      throw new GitLabError('NOT_FOUND', 'GitLab answered GET /projects/1 with 404');
    });
    pool.add(a);
    pool.add(scripted('b', async () => 'b'));
    await expect(clock.until(pool.run((m) => m.client.call()))).rejects.toMatchObject({ failure: 'NOT_FOUND' });
  });

  it('waits for the earliest reset when every member is out of quota, telling once that it waits and once that it goes on', async () => {
    const events: string[] = [];
    const pool = new CredentialPool<Scripted>({
      now: clock.now,
      sleep: clock.sleep,
      onAllThrottled: (until) => events.push(`throttled until +${until.getTime() - start}`),
      onResumed: () => events.push(`resumed at +${clock.time - start}`),
    });
    const start = clock.time;
    pool.add(scripted('a', async () => 'a'));
    pool.add(scripted('b', async () => 'b'));
    pool.observe('a', state(0, 5, start + 3_000));
    pool.observe('b', state(0, 5, start + 1_000));

    const results = await clock.until(Promise.all(Array.from({ length: 4 }, () => pool.run((m) => m.client.call()))));
    // b's window ends first, with 5 requests in it again: all four go to b at +1 s.
    expect(results).toEqual(['b', 'b', 'b', 'b']);
    expect(events).toEqual(['throttled until +1000', 'resumed at +1000']);
  });

  it('never hands out a member removed while a run waits for it', async () => {
    const pool = new CredentialPool<Scripted>({ now: clock.now, sleep: clock.sleep });
    const start = clock.time;
    const a = scripted('a', async () => 'a');
    pool.add(a);
    pool.add(scripted('b', async () => 'b'));
    pool.observe('a', state(0, 5, start + 1_000));
    pool.observe('b', state(0, 5, start + 3_000));

    const waiting = pool.run((m) => m.client.call());
    await clock.advance(500);
    pool.remove('a');
    await expect(clock.until(waiting)).resolves.toBe('b');
    expect(clock.time - start).toBe(3_000);
    expect(a.client.calls).toBe(0);
    expect(pool.has('a')).toBe(false);
  });

  it('never retries a RATE_LIMITED request with a member removed meanwhile, nor starts one with it', async () => {
    const pool = new CredentialPool<Scripted>({ now: clock.now, sleep: clock.sleep });
    const start = clock.time;
    const a = scripted('a', async () => {
      pool.remove('a');
      throw rateLimited(100);
    });
    const b = scripted('b', async () => 'b');
    pool.add(a);
    pool.add(b);
    pool.observe('b', state(0, 5, start + 2_000));

    // a goes first (b is out of quota); a is removed while its request is out, then answers 429.
    // The retry does not wait the 100 ms for a: it waits for b's reset.
    await expect(clock.until(pool.run((m) => m.client.call()))).resolves.toBe('b');
    expect(clock.time - start).toBe(2_000);
    expect(a.client.calls).toBe(1);
    for (let i = 0; i < 3; i++) await clock.until(pool.run((m) => m.client.call()));
    expect(a.client.calls).toBe(1);
    // Removed members still show in usage: they were used.
    expect(pool.usage()).toEqual([
      { key: 'a', requests: 1 },
      { key: 'b', requests: 4 },
    ]);
  });

  it('runs a request with the member asked for alone, waiting for its quota, and refuses when it is gone', async () => {
    const pool = new CredentialPool<Scripted>({ now: clock.now, sleep: clock.sleep });
    pool.add(scripted('a', async () => 'a'));
    pool.add(scripted('b', async () => 'b'));
    pool.observe('a', state(0, 5, clock.time + 1_000));
    pool.observe('b', state(5, 5, clock.time + 1_000));
    const started = clock.time;
    // b has quota, a has none: asked for a, the request waits for a's reset rather than take b.
    expect(await clock.until(pool.run((m) => m.client.call(), { member: 'a' }))).toBe('a');
    expect(clock.time - started).toBeGreaterThanOrEqual(1_000);
    pool.remove('a');
    await expect(pool.run((m) => m.client.call(), { member: 'a' })).rejects.toMatchObject({ code: 'GITLAB_MEMBER_GONE' });
    expect(await clock.until(pool.run((m) => m.client.call()))).toBe('b');
  });

  it('refuses to run when no member is left', async () => {
    const pool = new CredentialPool<Scripted>({ now: clock.now, sleep: clock.sleep });
    pool.add(scripted('a', async () => 'a'));
    pool.observe('a', state(0, 5, clock.time + 1_000));
    const waiting = pool.run((m) => m.client.call());
    await clock.settle();
    pool.remove('a');
    await expect(clock.until(waiting)).rejects.toMatchObject({ code: 'GITLAB_NO_CREDENTIAL' });
    await expect(new CredentialPool().run(async () => 1)).rejects.toMatchObject({ code: 'GITLAB_NO_CREDENTIAL' });
  });

  it('does not overshoot with 16 concurrent runs: no 429, and about requests ÷ (members × rate) of time', async () => {
    const pool = new CredentialPool<FakeToken>({ now: clock.now, sleep: clock.sleep });
    const rule = { limit: 10, windowMs: 1_000, latencyMs: 40 };
    const tokens = ['a', 'b', 'c'].map((key) => new FakeToken(clock, key, pool, rule));
    for (const token of tokens) pool.add({ key: token.key, client: token });
    // Start at the beginning of a window, as the ideal figure assumes.
    clock.time -= clock.time % 1_000;
    const start = clock.time;

    const total = 300;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        next += 1;
        await pool.run((m) => m.client.call());
      }
    };
    await clock.until(Promise.all(Array.from({ length: 16 }, worker)));

    const refused = tokens.reduce((n, t) => n + t.refused, 0);
    const served = tokens.reduce((n, t) => n + t.served, 0);
    expect(served).toBe(total);
    expect(refused).toBe(0);
    const ideal = (total / (tokens.length * rule.limit)) * rule.windowMs;
    expect(clock.time - start).toBeLessThanOrEqual(ideal * 1.15);
    for (const token of tokens) expect(token.served).toBe(100);
  });

  it('learns to wait a little past each reset when GitLab’s clock is behind ours, and then stops hitting 429s', async () => {
    const pool = new CredentialPool<FakeToken>({ now: clock.now, sleep: clock.sleep });
    const token = new FakeToken(clock, 'a', pool, { limit: 10, windowMs: 1_000, latencyMs: 20, clockBehindMs: 150 });
    pool.add({ key: 'a', client: token });
    const refusedBy: number[] = [];
    let next = 0;
    const worker = async () => {
      while (next < 150) {
        next += 1;
        await pool.run((m) => m.client.call());
        refusedBy.push(token.refused);
      }
    };
    await clock.until(Promise.all(Array.from({ length: 8 }, worker)));
    expect(token.served).toBe(150);
    // A few windows of refusals while the margin grows (100 ms, then 200 ms), none after.
    expect(token.refused).toBeGreaterThan(0);
    expect(token.refused).toBeLessThanOrEqual(30);
    expect(refusedBy[refusedBy.length - 1]).toBe(refusedBy[Math.floor(refusedBy.length / 2)]);
  });
});
