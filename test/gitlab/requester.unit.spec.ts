import { inspect } from 'node:util';
import { backoffMs, readRateLimit, requestHandler, retryAfterMs, type RequesterOptions } from '../../src/gitlab/requester';
import { GitLabError } from '../../src/gitlab/types';

const TOKEN = 'glpat-abcdefghijklmnop';
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** A handler whose fetch answers from a script, and whose sleeps only add up. */
function handler(answers: ((init: RequestInit) => Response | Promise<Response>)[], options: RequesterOptions = {}) {
  const slept: number[] = [];
  let time = NOW;
  const calls: { url: string; headers: Record<string, string> }[] = [];
  const handle = requestHandler({
    now: () => time,
    sleep: async (ms) => {
      slept.push(ms);
      time += ms;
    },
    random: () => 0.5,
    fetch: async (url, init) => {
      calls.push({ url: url.toString(), headers: init.headers as Record<string, string> });
      const next = answers.shift();
      if (!next) throw new Error('no more answers');
      return next(init);
    },
    ...options,
  });
  const get = (endpoint: string, searchParams = '') =>
    handle(endpoint, { method: 'GET', prefixUrl: 'https://gitlab.example.com/api/v4', headers: { 'private-token': TOKEN }, searchParams });
  const send = (method: string, endpoint: string) =>
    handle(endpoint, { method, prefixUrl: 'https://gitlab.example.com/api/v4', headers: { 'private-token': TOKEN }, body: '{}' });
  return { get, send, slept, calls };
}

/** A fetch failure as undici reports it: a TypeError whose cause carries the system's code. */
function networkError(code: string): () => never {
  return () => {
    throw new TypeError('fetch failed', { cause: Object.assign(new Error(`${code} 127.0.0.1:443`), { code }) });
  };
}

describe('the request handler', () => {
  it('sends the request as gitbeaker built it and returns gitbeaker’s shape', async () => {
    const { get, calls } = handler([() => json(200, [{ id: 1 }], { 'x-next-page': '2' })]);
    await expect(get('groups/1/projects', 'page=1&per_page=2')).resolves.toEqual({
      body: [{ id: 1 }],
      headers: expect.objectContaining({ 'x-next-page': '2' }),
      status: 200,
    });
    expect(calls).toEqual([{ url: 'https://gitlab.example.com/api/v4/groups/1/projects?page=1&per_page=2', headers: { 'private-token': TOKEN } }]);
  });

  it('sends no token an HTTP header cannot carry, at once and without a word of it', async () => {
    for (const token of ['glpat-abcdefgh中ijk', 'glpat-abcd\r\nX-Other: 1', 'glpat-abcd\u0000efgh', 'glpat-é']) {
      let sent = 0;
      const handle = requestHandler({
        fetch: async () => {
          sent += 1;
          throw new TypeError('fetch failed');
        },
      });
      for (const headers of [{ 'private-token': token }, { authorization: `Bearer ${token}` }]) {
        const error = await handle('user', { method: 'GET', prefixUrl: 'https://gitlab.example.com/api/v4', headers }).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(GitLabError);
        expect((error as GitLabError).failure).toBe('UNAUTHORIZED');
        expect((error as GitLabError).message).toMatch(
          /^GET \/api\/v4\/user was not sent to GitLab at https:\/\/gitlab\.example\.com: the token holds characters/,
        );
        expect(`${(error as GitLabError).message} ${JSON.stringify((error as GitLabError).details)}`).not.toMatch(/glpat|index|中|é/);
      }
      expect(sent).toBe(0);
    }
  });

  it('reports every answer with its rate limit state', async () => {
    const seen: unknown[] = [];
    const headers = { 'ratelimit-limit': '600', 'ratelimit-remaining': '0', 'ratelimit-reset': String(NOW / 1000 + 30), 'retry-after': '30' };
    const { get } = handler([() => json(429, { message: 'Retry later' }, headers), () => json(200, {}, { ...headers, 'ratelimit-remaining': '599' })], {
      onResponse: (info) => seen.push(info),
    });
    await get('user');
    expect(seen).toEqual([
      { status: 429, method: 'GET', path: '/api/v4/user', rateLimit: { limit: 600, remaining: 0, resetAt: new Date(NOW + 30_000) } },
      { status: 200, method: 'GET', path: '/api/v4/user', rateLimit: { limit: 600, remaining: 599, resetAt: new Date(NOW + 30_000) } },
    ]);
  });

  it("in 'wait' mode sleeps for Retry-After given as an HTTP date", async () => {
    const { get, slept } = handler([() => json(429, {}, { 'retry-after': new Date(NOW + 7_000).toUTCString() }), () => json(200, {})]);
    await get('user');
    expect(slept).toEqual([7_000]);
  });

  it("in 'wait' mode falls back to RateLimit-Reset when there is no Retry-After", async () => {
    const { get, slept } = handler([() => json(429, {}, { 'ratelimit-reset': String(NOW / 1000 + 12) }), () => json(200, {})]);
    await get('user');
    expect(slept).toEqual([12_000]);
  });

  it("in 'wait' mode gives up with RATE_LIMITED once the waits would pass maxRateLimitWaitMs", async () => {
    const limited = () => json(429, {}, { 'retry-after': '40' });
    const { get, slept } = handler([limited, limited, limited], { maxRateLimitWaitMs: 60_000 });
    await expect(get('user')).rejects.toMatchObject({ failure: 'RATE_LIMITED', details: { retryAfterMs: 40_000 } });
    expect(slept).toEqual([40_000]);
  });

  it('retries 5xx with jittered exponential backoff within maxRetryMs, then fails with SERVER_ERROR', async () => {
    const { get, slept } = handler(
      Array.from({ length: 50 }, () => () => json(502, { message: '502 Bad Gateway' })),
      { maxRetryMs: 3_000 },
    );
    const error = (await get('projects/1').catch((e: unknown) => e)) as GitLabError;
    expect(error).toBeInstanceOf(GitLabError);
    expect(error.failure).toBe('SERVER_ERROR');
    expect(error.message).toMatch(/^GitLab answered GET \/api\/v4\/projects\/1 with 502: 502 Bad Gateway \(gave up after \d+ attempts in 3\.0 s\)$/);
    // Half of 200·2^n (random() is 0.5), the last one cut to what is left of the 3 s.
    expect(slept.slice(0, 4)).toEqual([100, 200, 400, 800]);
    expect(slept.reduce((a, b) => a + b, 0)).toBe(3_000);
  });

  it('sends a write (POST, PATCH) once when GitLab may have done it: a 5xx, a timeout or a connection lost after it was made', async () => {
    for (const method of ['POST', 'PATCH']) {
      const failed = handler([() => json(502, { message: '502 Bad Gateway' }), () => json(201, { id: 1 })]);
      const error = (await failed.send(method, 'projects/1/issues').catch((e: unknown) => e)) as GitLabError;
      expect(error).toBeInstanceOf(GitLabError);
      expect(error.failure).toBe('SERVER_ERROR');
      expect(error.message).toBe(`GitLab answered ${method} /api/v4/projects/1/issues with 502: 502 Bad Gateway (not retried: GitLab may have done it)`);
      expect(failed.calls).toHaveLength(1);
    }
    const reset = handler([networkError('ECONNRESET'), () => json(201, { id: 1 })]);
    await expect(reset.send('POST', 'projects/1/issues')).rejects.toMatchObject({ failure: 'UNREACHABLE', message: expect.stringMatching(/not retried/) });
    expect(reset.calls).toHaveLength(1);
    // Like fetch, the answer that never comes ends when the attempt's signal does.
    const never = (init: RequestInit) => new Promise<Response>((_, reject) => init.signal?.addEventListener('abort', () => reject(init.signal?.reason)));
    const slow = handler([never, () => json(201, { id: 1 })], { timeoutMs: 50 });
    await expect(slow.send('POST', 'projects/1/issues')).rejects.toMatchObject({ failure: 'TIMEOUT', message: expect.stringMatching(/not retried/) });
    expect(slow.calls).toHaveLength(1);
  });

  it('sends a write again when no connection was made, and retries reads and idempotent writes after a 5xx', async () => {
    const refused = handler([networkError('ECONNREFUSED'), () => json(201, { id: 7 })]);
    await expect(refused.send('POST', 'projects/1/issues')).resolves.toMatchObject({ status: 201, body: { id: 7 } });
    expect(refused.calls).toHaveLength(2);
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const retried = handler([() => json(503, {}), () => json(200, { ok: true })]);
      await expect(retried.send(method, 'projects/1')).resolves.toMatchObject({ status: 200 });
      expect(retried.calls).toHaveLength(2);
    }
  });

  it('keeps the token out of messages even when GitLab echoes it', async () => {
    const { get } = handler([() => json(400, { message: `bad token ${TOKEN}` })]);
    const error = (await get('user').catch((e: unknown) => e)) as GitLabError;
    expect(error.failure).toBe('BAD_RESPONSE');
    expect(error.message).toContain('bad token [redacted]');
    for (const text of [error.message, String(error), JSON.stringify(error), inspect(error)]) expect(text).not.toContain(TOKEN);
  });

  it('keeps out even the head of a token that an echo would cut in two', async () => {
    // A proxy's page quoting the request's headers, the token falling across where messages are cut short.
    const page = `${'x'.repeat(175)} PRIVATE-TOKEN: ${TOKEN}`;
    const { get } = handler([() => new Response(page, { status: 400, headers: { 'content-type': 'text/plain' } })]);
    const error = (await get('user').catch((e: unknown) => e)) as GitLabError;
    expect(error.failure).toBe('BAD_RESPONSE');
    expect(error.message).not.toContain(TOKEN.slice(0, 8));
  });

  it('wraps a fetch failure as UNREACHABLE with its innermost reason, and no cause', async () => {
    const refused = () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' }) });
    };
    const { get } = handler([refused, refused], { maxRetryMs: 50 });
    const error = (await get('user').catch((e: unknown) => e)) as GitLabError;
    expect(error.failure).toBe('UNREACHABLE');
    expect('cause' in error).toBe(false);
    expect(error.message).toContain('GitLab at https://gitlab.example.com did not answer GET /api/v4/user: connect ECONNREFUSED 10.0.0.1:443');
  });

  it('answers a body that is not JSON as it claims with BAD_RESPONSE', async () => {
    const { get } = handler([() => new Response('{not json', { status: 200, headers: { 'content-type': 'application/json' } })]);
    await expect(get('user')).rejects.toMatchObject({ failure: 'BAD_RESPONSE' });
  });
});

describe('the request handler, stopped or gated from outside', () => {
  const never = () => new Promise<void>(() => undefined);

  it("ends a 'wait' mode wait for Retry-After at once when its signal is aborted, with ABORTED", async () => {
    const stop = new AbortController();
    const slept: number[] = [];
    const { get, calls } = handler([() => json(429, {}, { 'retry-after': '600' }), () => json(200, {})], {
      signal: stop.signal,
      sleep: (ms) => {
        slept.push(ms);
        return never();
      },
    });
    const call = get('projects/1');
    await eventuallyTrue(() => slept.length === 1);
    stop.abort();
    const error = (await call.catch((e: unknown) => e)) as GitLabError;
    expect(error).toBeInstanceOf(GitLabError);
    expect(error).toMatchObject({ failure: 'ABORTED', code: 'GITLAB_ABORTED' });
    expect(error.message).toBe('GET /api/v4/projects/1 to GitLab at https://gitlab.example.com was abandoned: the work it was for stopped');
    expect(slept).toEqual([600_000]);
    expect(calls).toHaveLength(1);
  });

  it('ends a backoff between 5xx retries at once, and makes no further attempt', async () => {
    const stop = new AbortController();
    let sleeping = 0;
    const { get, calls } = handler(
      Array.from({ length: 5 }, () => () => json(502, {})),
      {
        signal: stop.signal,
        maxRetryMs: 60_000,
        sleep: () => {
          sleeping += 1;
          return never();
        },
      },
    );
    const call = get('projects/1');
    await eventuallyTrue(() => sleeping === 1);
    stop.abort();
    await expect(call).rejects.toMatchObject({ failure: 'ABORTED' });
    expect(calls).toHaveLength(1);
  });

  it('ends a request in flight at once, even one whose fetch ignores the signal', async () => {
    const stop = new AbortController();
    let sent: RequestInit | undefined;
    const { get } = handler([], {
      signal: stop.signal,
      fetch: (_url, init) => {
        sent = init;
        return new Promise<Response>(() => undefined);
      },
    });
    const call = get('projects/1');
    await eventuallyTrue(() => sent !== undefined);
    stop.abort();
    await expect(call).rejects.toMatchObject({ failure: 'ABORTED' });
    // The fetch was given a signal that the abort reaches, so that its socket is let go too.
    expect(sent!.signal!.aborted).toBe(true);
  });

  it('sends nothing once its signal is aborted', async () => {
    const stop = new AbortController();
    stop.abort();
    const { get, calls } = handler([() => json(200, {})], { signal: stop.signal });
    await expect(get('user')).rejects.toMatchObject({ failure: 'ABORTED' });
    expect(calls).toEqual([]);
  });

  it('asks beforeRetry before each retry, not before the first attempt', async () => {
    const order: string[] = [];
    const { get } = handler(
      [
        () => {
          order.push('attempt');
          return json(502, {});
        },
        () => {
          order.push('attempt');
          return json(429, {}, { 'retry-after': '1' });
        },
        () => {
          order.push('attempt');
          return json(200, { id: 1 });
        },
      ],
      {
        beforeRetry: async () => {
          order.push('beforeRetry');
        },
      },
    );
    await expect(get('projects/1')).resolves.toMatchObject({ status: 200 });
    expect(order).toEqual(['attempt', 'beforeRetry', 'attempt', 'beforeRetry', 'attempt']);
  });

  it('ends the call with what beforeRetry throws, and sends nothing more', async () => {
    class Left extends Error {}
    const { get, calls } = handler(
      Array.from({ length: 5 }, () => () => json(503, {})),
      {
        maxRetryMs: 60_000,
        beforeRetry: () => Promise.reject(new Left('switched off')),
      },
    );
    await expect(get('projects/1')).rejects.toBeInstanceOf(Left);
    expect(calls).toHaveLength(1);
  });
});

/** Waits (in real time, briefly) until the handler reaches the step a test acts on. */
async function eventuallyTrue(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(condition()).toBe(true);
}

describe('rate limit headers', () => {
  it('reads RateLimit-* and Retry-After', () => {
    expect(readRateLimit(new Headers())).toEqual({ limit: null, remaining: null, resetAt: null });
    expect(readRateLimit(new Headers({ 'RateLimit-Limit': '10', 'RateLimit-Remaining': '3', 'RateLimit-Reset': '1700000000' }))).toEqual({
      limit: 10,
      remaining: 3,
      resetAt: new Date(1_700_000_000_000),
    });
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }), NOW)).toBe(2_000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }), NOW)).toBeNull();
    expect(retryAfterMs(new Headers(), NOW)).toBeNull();
  });

  it('keeps backoff within [0, min(5 s, 200 ms·2^n))', () => {
    expect(backoffMs(0, () => 0.999)).toBeLessThan(200);
    expect(backoffMs(3, () => 0.999)).toBeLessThan(1_600);
    expect(backoffMs(20, () => 0.999)).toBeLessThan(5_000);
    expect(backoffMs(20, () => 0)).toBe(0);
  });
});
