// Spreads requests across the credentials of an organization so that together they go as fast
// as GitLab lets each of them go, and no faster. No I/O of its own: the clock is injected.
import { BackplaneError } from '../errors';
import type { GitLabPageClient } from './client';
import { GitLabError, type RateLimitState } from './types';

export interface PoolMember<C = GitLabPageClient> {
  /** A credential's id, or 'main' for the organization's own token. */
  key: string;
  client: C;
}

export interface CredentialPoolOptions {
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** A member answered 429 and rests until `until`. */
  onThrottled?(key: string, until: Date): void;
  /** Every member is out of quota; requests wait until `until`. Once per such wait. */
  onAllThrottled?(until: Date): void;
  /** Requests flow again after onAllThrottled. */
  onResumed?(): void;
  /** How many times one run may move to another member after RATE_LIMITED before it gives up. */
  maxSwitches?: number;
}

/** A quota that names no reset is trusted this long. */
const UNDATED_STATE_MS = 1_000;
/** When a 429 names no time. */
const COOL_DOWN_FALLBACK_MS = 1_000;
const DEFAULT_MAX_SWITCHES = 50;
/** Bounds of the margin learnt for a GitLab whose clock runs behind ours. */
const MIN_GRACE_MS = 100;
const MAX_GRACE_MS = 2_000;

interface Slot<C> {
  member: PoolMember<C>;
  requests: number;
  inFlight: number;
  /** An answer (or a finished request) has been seen since the member was added. */
  observed: boolean;
  limit: number | null;
  remaining: number | null;
  /** Epoch ms; null when GitLab named no reset. */
  resetAt: number | null;
  observedAt: number;
  coolingUntil: number;
  /** How long after GitLab's stated reset its window really ends by our clock (learnt from 429s). */
  graceMs: number;
  /** The reset whose 429s last grew graceMs: one window's burst of refusals grows it once. */
  graceGrownAt: number;
  /** Sequence number of the last hand-out, for round robin among equals. */
  lastHanded: number;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class CredentialPool<C = GitLabPageClient> {
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #options: CredentialPoolOptions;
  readonly #maxSwitches: number;
  /** Members that may be handed out. */
  readonly #live = new Map<string, Slot<C>>();
  /** Every member ever added, removed ones too, for usage(). */
  readonly #all = new Map<string, Slot<C>>();
  #waiters: (() => void)[] = [];
  #timerAt: number | null = null;
  #sequence = 0;
  #throttled = false;

  constructor(options: CredentialPoolOptions = {}) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? realSleep;
    this.#maxSwitches = options.maxSwitches ?? DEFAULT_MAX_SWITCHES;
  }

  /** Adds a member, or replaces the client of one with the same key (its quota is then learnt again). */
  add(member: PoolMember<C>): void {
    const requests = this.#all.get(member.key)?.requests ?? 0;
    const slot: Slot<C> = {
      member,
      requests,
      inFlight: 0,
      observed: false,
      limit: null,
      remaining: null,
      resetAt: null,
      observedAt: 0,
      coolingUntil: 0,
      graceMs: 0,
      graceGrownAt: 0,
      lastHanded: 0,
    };
    this.#live.set(member.key, slot);
    this.#all.set(member.key, slot);
    this.#notify();
  }

  /** The member is never handed out again, not even to a run waiting or retrying right now. */
  remove(key: string): void {
    if (this.#live.delete(key)) this.#notify();
  }

  has(key: string): boolean {
    return this.#live.has(key);
  }

  /** What GitLab said of a member's quota in an answer; wire each client's onResponse here. */
  observe(key: string, state: RateLimitState): void {
    const slot = this.#live.get(key);
    if (!slot) return;
    this.#merge(slot, state);
    this.#notify();
  }

  /**
   * Runs one request with the member that has the most quota left. On RATE_LIMITED the member
   * rests until its reset and the request moves to another; when every member is out of quota,
   * it waits for the earliest reset. Any other failure is the caller's. With `member`, that member
   * alone makes the request, waiting for its quota as long as it takes; GITLAB_MEMBER_GONE when
   * it is not (or no longer) in the pool.
   */
  async run<T>(request: (member: PoolMember<C>) => Promise<T>, options: { member?: string } = {}): Promise<T> {
    for (let switches = 0; ; switches += 1) {
      const slot = await this.#acquire(options.member);
      const sentAt = this.#now();
      try {
        return await request(slot.member);
      } catch (error) {
        if (error instanceof GitLabError && error.failure === 'RATE_LIMITED' && switches < this.#maxSwitches) {
          this.#coolDown(slot, error, sentAt);
          continue;
        }
        throw error;
      } finally {
        slot.inFlight -= 1;
        this.#absorb(slot);
        this.#notify();
      }
    }
  }

  /** Requests handed to each member so far (attempts moved elsewhere after a 429 included), removed members too. */
  usage(): { key: string; requests: number }[] {
    return [...this.#all.values()].map((slot) => ({ key: slot.member.key, requests: slot.requests }));
  }

  async #acquire(only?: string): Promise<Slot<C>> {
    for (;;) {
      if (this.#live.size === 0) {
        throw new BackplaneError('GITLAB_NO_CREDENTIAL', 'no credential is left to reach GitLab with');
      }
      if (only !== undefined && !this.#live.has(only)) {
        throw new BackplaneError('GITLAB_MEMBER_GONE', 'the credential asked for is no longer in the pool');
      }
      const now = this.#now();
      const slot = this.#pick(now, only);
      if (slot) {
        // Reserved before any await, so that a crowd of waiters woken together cannot all take
        // the last unit of quota.
        slot.inFlight += 1;
        slot.requests += 1;
        slot.lastHanded = ++this.#sequence;
        if (this.#throttled) {
          this.#throttled = false;
          this.#options.onResumed?.();
        }
        return slot;
      }
      const until = this.#earliestRelease(now);
      if (!this.#throttled && this.#allThrottled(now)) {
        this.#throttled = true;
        this.#options.onAllThrottled?.(new Date(until ?? now));
      }
      await this.#wait(until, now);
    }
  }

  /** The member with the most quota left after what is in flight; round robin among equals. */
  #pick(now: number, only?: string): Slot<C> | null {
    let best: Slot<C> | null = null;
    let bestRoom = 0;
    for (const slot of this.#live.values()) {
      if (only !== undefined && slot.member.key !== only) continue;
      const room = this.#room(slot, now);
      if (room <= 0) continue;
      if (
        best === null ||
        room > bestRoom ||
        (room === bestRoom && (slot.inFlight < best.inFlight || (slot.inFlight === best.inFlight && slot.lastHanded < best.lastHanded)))
      ) {
        best = slot;
        bestRoom = room;
      }
    }
    return best;
  }

  /** How many more requests the member may take now. */
  #room(slot: Slot<C>, now: number): number {
    if (slot.coolingUntil > now) return 0;
    // Before a member's first answer, one request at a time finds out what its quota is; that
    // request goes first, so that every member's quota is known soon.
    if (!slot.observed) return slot.inFlight === 0 ? Infinity : 0;
    if (slot.remaining === null) return Infinity;
    if (this.#windowOver(slot, now)) {
      if (slot.limit === null) return slot.inFlight === 0 ? 1 : 0;
      return slot.limit - slot.inFlight;
    }
    return slot.remaining - slot.inFlight;
  }

  #windowOver(slot: Slot<C>, now: number): boolean {
    return now >= this.#freshAt(slot);
  }

  /** When the member's quota counts as whole again. */
  #freshAt(slot: Slot<C>): number {
    return slot.resetAt !== null ? slot.resetAt + slot.graceMs : slot.observedAt + UNDATED_STATE_MS;
  }

  /** Out of quota until a known time, whatever is in flight. */
  #exhausted(slot: Slot<C>, now: number): boolean {
    if (slot.coolingUntil > now) return true;
    return slot.observed && slot.remaining !== null && slot.remaining <= 0 && !this.#windowOver(slot, now);
  }

  #allThrottled(now: number): boolean {
    for (const slot of this.#live.values()) if (!this.#exhausted(slot, now)) return false;
    return true;
  }

  /** When the first exhausted member gets quota back; null when only finishing requests free some. */
  #earliestRelease(now: number): number | null {
    let earliest: number | null = null;
    for (const slot of this.#live.values()) {
      let at: number | null = null;
      if (slot.coolingUntil > now) at = slot.coolingUntil;
      else if (this.#exhausted(slot, now)) at = this.#freshAt(slot);
      if (at !== null && (earliest === null || at < earliest)) earliest = at;
    }
    // Nothing in flight would wake us (a quota GitLab states oddly, say): look again shortly.
    if (earliest === null && ![...this.#live.values()].some((slot) => slot.inFlight > 0)) earliest = now + UNDATED_STATE_MS;
    return earliest;
  }

  /**
   * Takes in a RateLimit state. Answers to concurrent requests arrive in any order: within one
   * window the lowest remaining is the truth, and an answer from a window already over says
   * nothing of the current one.
   */
  #merge(slot: Slot<C>, state: RateLimitState): void {
    const now = this.#now();
    const resetAt = state.resetAt?.getTime() ?? null;
    slot.observed = true;
    if (state.remaining === null && state.limit === null && resetAt === null) return;
    if (resetAt !== null && slot.resetAt !== null && slot.remaining !== null) {
      if (resetAt < slot.resetAt) return;
      if (resetAt === slot.resetAt) {
        if (state.remaining !== null) slot.remaining = Math.min(slot.remaining, state.remaining);
        if (state.limit !== null) slot.limit = state.limit;
        slot.observedAt = now;
        return;
      }
    }
    slot.limit = state.limit ?? slot.limit;
    slot.remaining = state.remaining;
    slot.resetAt = resetAt;
    slot.observedAt = now;
  }

  /** After a request: what its client last heard, when it exposes that, else just that it was answered. */
  #absorb(slot: Slot<C>): void {
    const client = slot.member.client as { rateLimit?: unknown };
    const state = client?.rateLimit;
    if (isRateLimitState(state)) this.#merge(slot, state);
    else slot.observed = true;
  }

  #coolDown(slot: Slot<C>, error: GitLabError, sentAt: number): void {
    const now = this.#now();
    const retryAfter = error.details.retryAfterMs ?? COOL_DOWN_FALLBACK_MS;
    const reset = error.details.rateLimit?.resetAt?.getTime() ?? null;
    // Retry-After is whole seconds, rounded up; the window's own reset is the sharper of the two
    // when they agree to within that rounding.
    const until = reset !== null && reset > now && now + retryAfter - reset <= 1_000 ? reset + slot.graceMs : now + retryAfter;
    // Sent after that window had ended by our clock, and still counted in it: GitLab's clock is
    // behind ours, so wait a little longer after each stated reset from now on.
    if (reset !== null && sentAt >= reset && reset > slot.graceGrownAt) {
      slot.graceGrownAt = reset;
      slot.graceMs = Math.min(MAX_GRACE_MS, Math.max(MIN_GRACE_MS, slot.graceMs * 2));
    }
    slot.coolingUntil = Math.max(slot.coolingUntil, until);
    if (error.details.rateLimit) this.#merge(slot, { ...error.details.rateLimit, remaining: 0 });
    if (this.#live.has(slot.member.key)) this.#options.onThrottled?.(slot.member.key, new Date(slot.coolingUntil));
  }

  #wait(until: number | null, now: number): Promise<void> {
    const woken = new Promise<void>((resolve) => this.#waiters.push(resolve));
    // One timer for all waiters: the earliest time anything can change by itself. A stale timer
    // only wakes waiters early, and they look again.
    if (until !== null && (this.#timerAt === null || until < this.#timerAt || this.#timerAt <= now)) {
      this.#timerAt = until;
      void this.#sleep(Math.max(0, until - now)).then(() => {
        if (this.#timerAt === until) this.#timerAt = null;
        this.#notify();
      });
    }
    return woken;
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

function isRateLimitState(value: unknown): value is RateLimitState {
  return typeof value === 'object' && value !== null && 'remaining' in value && 'limit' in value && 'resetAt' in value;
}
