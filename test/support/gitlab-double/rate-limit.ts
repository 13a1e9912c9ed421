/**
 * GitLab's authenticated API throttle, per token: fixed windows aligned on multiples of windowMs
 * since the Unix epoch, so that every window ends on a whole second. Every request counts,
 * refused ones included (RateLimit-Observed can exceed the limit), as Rack::Attack counts them.
 */
export interface RateLimitRule {
  limit: number;
  /** A multiple of 1000. */
  windowMs: number;
}

export interface RateLimitVerdict {
  limited: boolean;
  headers: Record<string, string>;
}

interface Counter {
  windowStart: number;
  windowMs: number;
  count: number;
}

export class RateLimits {
  private defaultRule: RateLimitRule | null = null;
  private readonly perToken = new Map<string, RateLimitRule>();
  private readonly counters = new Map<string, Counter>();

  /** With a token, that token's rule (null: back to the default); without, the default for every token. */
  set(rule: RateLimitRule | null, token?: string): void {
    if (rule) validate(rule);
    if (token === undefined) this.defaultRule = rule;
    else if (rule) this.perToken.set(token, rule);
    else this.perToken.delete(token);
  }

  /** Counts one request of the token; null when no rule applies (then no headers are sent). */
  take(token: string, now: number): RateLimitVerdict | null {
    const rule = this.perToken.get(token) ?? this.defaultRule;
    if (!rule) return null;
    const windowStart = now - (now % rule.windowMs);
    let counter = this.counters.get(token);
    if (!counter || counter.windowStart !== windowStart || counter.windowMs !== rule.windowMs) {
      counter = { windowStart, windowMs: rule.windowMs, count: 0 };
      this.counters.set(token, counter);
    }
    counter.count += 1;
    const resetMs = windowStart + rule.windowMs;
    const limited = counter.count > rule.limit;
    const headers: Record<string, string> = {
      'ratelimit-name': 'throttle_authenticated_api',
      'ratelimit-limit': String(rule.limit),
      'ratelimit-observed': String(counter.count),
      'ratelimit-remaining': String(Math.max(0, rule.limit - counter.count)),
      'ratelimit-reset': String(resetMs / 1000),
      'ratelimit-resettime': new Date(resetMs).toUTCString(),
    };
    if (limited) headers['retry-after'] = String(Math.max(1, Math.ceil((resetMs - now) / 1000)));
    return { limited, headers };
  }
}

function validate(rule: RateLimitRule): void {
  if (!Number.isInteger(rule.limit) || rule.limit < 0) throw new Error(`rate limit must be a whole number >= 0, not ${rule.limit}`);
  if (!Number.isInteger(rule.windowMs) || rule.windowMs <= 0 || rule.windowMs % 1000 !== 0) {
    throw new Error(`rate limit window must be a positive multiple of 1000 ms, not ${rule.windowMs}`);
  }
}
