// How every call to GitLab goes over the wire. gitbeaker builds the request (path, query, auth
// header); this handler sends it, and decides what an answer or a failure means for Backplane.
import { createRequesterFn } from '@gitbeaker/requester-utils';
import type { FormattedResponse, RequesterType, ResourceOptions } from '@gitbeaker/requester-utils';
import { GitLabError, type GitLabFailure, type RateLimitState } from './types';

/** What one answer of GitLab said, reported for every answer (2xx, 4xx, 5xx alike). */
export interface ResponseInfo {
  status: number;
  rateLimit: RateLimitState;
  method: string;
  /** The URL path, without its query string. */
  path: string;
}

/** Told how each attempt ended, for the metrics: what it carries names no token, id or query. */
export interface RequestObserver {
  answered(info: { method: string; path: string; status: number }): void;
  unanswered(info: { method: string; path: string; failure: GitLabFailure }): void;
  /** A 429 asked for this rest: waited out here in 'wait' mode, left to the caller (a pool) in 'fail' mode. */
  throttled(ms: number): void;
}

export interface RequesterOptions {
  /** On 429: sleep for Retry-After and try again ('wait'), or throw RATE_LIMITED at once ('fail'). */
  rateLimit?: 'wait' | 'fail';
  /** The most one attempt may take, headers and body together. */
  timeoutMs?: number;
  /** How long 5xx answers, connection errors and timeouts are retried before the call fails. */
  maxRetryMs?: number;
  /** How long 'wait' mode waits out 429s in all before it gives up with RATE_LIMITED. */
  maxRateLimitWaitMs?: number;
  onResponse?: (info: ResponseInfo) => void;
  observer?: RequestObserver;
  /** Called before each HTTP attempt, retries included. */
  onAttempt?: () => void;
  /**
   * Aborted: every wait (Retry-After, backoff) and the attempt in flight end at once with ABORTED,
   * so that a stopping service or a cancelled task is not held for minutes by GitLab.
   */
  signal?: AbortSignal;
  /**
   * Runs before each retry, after its wait: whether the call may still go on with this token. A
   * token that lost its right to be used meanwhile must not keep retrying for maxRetryMs; what it
   * throws ends the call as it is, and no further attempt is made.
   */
  beforeRetry?: () => Promise<void>;
  now?: () => number;
  /** `signal` is given for the timer to be cleared on abort; a sleep that ignores it is cut short anyway. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** In [0, 1), for the backoff's jitter. */
  random?: () => number;
  fetch?: (url: URL, init: RequestInit) => Promise<Response>;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_RETRY_MS = 60_000;
export const DEFAULT_MAX_RATE_LIMIT_WAIT_MS = 10 * 60_000;
const BACKOFF_BASE_MS = 200;
const BACKOFF_CAP_MS = 5_000;
/** When a 429 names no time at all. */
const RATE_LIMIT_FALLBACK_MS = 1_000;
const MAX_DESCRIPTION = 200;

function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * `work`, or the abort of `signal` as `aborted()`, whichever comes first. The listener goes once
 * the race is decided: the signal may live as long as the service.
 */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, aborted: () => Error): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(aborted());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Reads the RateLimit-* headers; a header that is absent or not a number is null. */
export function readRateLimit(headers: Headers): RateLimitState {
  const int = (name: string): number | null => {
    const raw = headers.get(name);
    if (raw === null || raw.trim() === '') return null;
    const value = Number(raw);
    return Number.isFinite(value) ? value : null;
  };
  const reset = int('ratelimit-reset');
  return { limit: int('ratelimit-limit'), remaining: int('ratelimit-remaining'), resetAt: reset === null ? null : new Date(reset * 1000) };
}

/**
 * How long a 429 asks us to wait: Retry-After (delta seconds or an HTTP date), else until
 * RateLimit-Reset, else null.
 */
export function retryAfterMs(headers: Headers, now: number): number | null {
  const raw = headers.get('retry-after')?.trim();
  if (raw) {
    if (/^\d+(\.\d+)?$/.test(raw)) return Math.ceil(Number(raw) * 1000);
    const date = Date.parse(raw);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = readRateLimit(headers).resetAt;
  if (reset) return Math.max(0, reset.getTime() - now);
  return null;
}

/** Exponential backoff with full jitter: anywhere in [0, min(cap, base·2^attempt)). */
export function backoffMs(attempt: number, random: () => number): number {
  return Math.floor(random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt));
}

/**
 * A gitbeaker requesterFn for `new Gitlab({ requesterFn, ... })`. gitbeaker's default options
 * handler still builds headers, query and body; only the sending is ours.
 */
export function createRequester(options: RequesterOptions = {}): (serviceOptions: ResourceOptions) => RequesterType {
  const handler = requestHandler(options);
  return createRequesterFn((_service, requestOptions) => Promise.resolve(requestOptions), handler);
}

interface HandlerOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | FormData;
  searchParams?: string;
  prefixUrl?: string;
  asStream?: boolean;
  signal?: AbortSignal;
  agent?: unknown;
}

/** The request handler alone: (endpoint, gitbeaker's request options) → { body, headers, status }. */
export function requestHandler(options: RequesterOptions = {}) {
  const mode = options.rateLimit ?? 'wait';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxRetryMs = options.maxRetryMs ?? DEFAULT_MAX_RETRY_MS;
  const maxRateLimitWaitMs = options.maxRateLimitWaitMs ?? DEFAULT_MAX_RATE_LIMIT_WAIT_MS;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const doFetch = options.fetch ?? ((url: URL, init: RequestInit) => fetch(url, init));

  return async (endpoint: string, raw?: Record<string, unknown>): Promise<FormattedResponse> => {
    // gitbeaker's own client-side limiters (raw.rateLimiters) are deliberately never called:
    // GitLab's answers alone pace us.
    const { method = 'GET', headers = {}, body, searchParams, prefixUrl, asStream = false, signal: outer, agent } = (raw ?? {}) as HandlerOptions;
    const base = prefixUrl ? (prefixUrl.endsWith('/') ? prefixUrl : `${prefixUrl}/`) : undefined;
    const url = new URL(endpoint, base);
    url.search = searchParams ?? '';
    const secrets = secretsOf(headers);
    const what = `${method} ${url.pathname}`;
    const origin = url.origin;
    // fetch refuses such a header with a message that names the character and where it stands:
    // refused here, once, with nothing of the token in the words.
    if (!authenticating(headers).every(printable)) {
      throw new GitLabError(
        'UNAUTHORIZED',
        `${what} was not sent to GitLab at ${origin}: the token holds characters other than printable ASCII, as no GitLab token does`,
      );
    }

    const cancel = options.signal;
    // No token can be in it: the message is built from the method, path and origin alone.
    const aborted = () => new GitLabError('ABORTED', `${what} to GitLab at ${origin} was abandoned: the work it was for stopped`);
    const pause = (ms: number) => unlessAborted(sleep(ms, cancel), cancel, aborted);

    const started = now();
    let rateLimitWaited = 0;
    let failures = 0;
    const idempotent = !NOT_IDEMPOTENT.has(method.toUpperCase());

    for (let attempt = 0; ; attempt += 1) {
      if (attempt > 0 && options.beforeRetry) await unlessAborted(options.beforeRetry(), cancel, aborted);
      if (cancel?.aborted) throw aborted();
      options.onAttempt?.();
      const bound = attemptSignal(timeoutMs, [outer, cancel]);
      const { signal } = bound;
      let retryReason: { failure: GitLabFailure; message: string; status?: number };
      try {
        // Node's fetch keeps connections alive by default; nothing to ask for here.
        const init: Record<string, unknown> = { method, headers, body, signal };
        if (agent) init.dispatcher = agent;
        const response = await unlessAborted(doFetch(url, init as RequestInit), cancel, aborted);
        const rateLimit = readRateLimit(response.headers);
        options.onResponse?.({ status: response.status, rateLimit, method, path: url.pathname });
        options.observer?.answered({ method, path: url.pathname, status: response.status });

        if (response.ok) {
          const parsed = await parseBody(response, asStream).catch((error: unknown) => {
            if (cancel?.aborted) throw aborted();
            if (bound.timedOut() || outer?.aborted) throw error;
            throw new GitLabError('BAD_RESPONSE', `GitLab answered ${what} with ${response.status} and a body that could not be read`, {
              status: response.status,
            });
          });
          return { body: parsed, headers: Object.fromEntries(response.headers.entries()), status: response.status };
        }

        // Redacted before it is cut short: a token straddling the cut would otherwise keep its head.
        const description = await describe(response, (text) => redact(text, secrets));
        // Its body was cut off by the abort, not by GitLab.
        if (cancel?.aborted) throw aborted();
        const said = `GitLab answered ${what} with ${response.status}${description ? `: ${description}` : ''}`;

        if (response.status === 429) {
          const wait = retryAfterMs(response.headers, now());
          if (mode === 'fail' || rateLimitWaited + (wait ?? 0) > maxRateLimitWaitMs) {
            options.observer?.throttled(wait ?? RATE_LIMIT_FALLBACK_MS);
            throw new GitLabError('RATE_LIMITED', wait === null ? said : `${said} (retry after ${Math.ceil(wait / 1000)} s)`, {
              status: 429,
              retryAfterMs: wait ?? RATE_LIMIT_FALLBACK_MS,
              rateLimit,
            });
          }
          const ms = wait ?? Math.max(RATE_LIMIT_FALLBACK_MS, backoffMs(failures, random));
          rateLimitWaited += ms;
          options.observer?.throttled(ms);
          await pause(ms);
          continue;
        }
        if (response.status >= 500) {
          // GitLab may have done it before failing: a write done twice (two issues) is worse than one that fails.
          if (!idempotent) throw new GitLabError('SERVER_ERROR', `${said} (not retried: GitLab may have done it)`, { status: response.status });
          retryReason = { failure: 'SERVER_ERROR', message: said, status: response.status };
        } else {
          throw new GitLabError(failureOf(response.status), said, { status: response.status, rateLimit, ...(description && { gitlabMessage: description }) });
        }
      } catch (error) {
        if (error instanceof GitLabError) throw error;
        if (cancel?.aborted) throw aborted();
        if (bound.timedOut()) {
          retryReason = { failure: 'TIMEOUT', message: `GitLab at ${origin} did not answer ${what} within ${timeoutMs} ms` };
        } else if (outer?.aborted) {
          throw new GitLabError('TIMEOUT', `${what} to GitLab at ${origin} was cancelled`);
        } else {
          retryReason = { failure: 'UNREACHABLE', message: `GitLab at ${origin} did not answer ${what}: ${redact(networkReason(error), secrets)}` };
        }
        options.observer?.unanswered({ method, path: url.pathname, failure: retryReason.failure });
        // A write is sent again only when it surely never reached GitLab: no connection was made.
        if (!idempotent && (bound.timedOut() || !neverConnected(error))) {
          throw new GitLabError(retryReason.failure, `${retryReason.message} (not retried: GitLab may have done it)`);
        }
      } finally {
        bound.release();
      }

      failures += 1;
      // Time spent waiting out 429s was GitLab's instruction, not a failure: it does not count.
      const elapsed = now() - started - rateLimitWaited;
      if (elapsed >= maxRetryMs) {
        const { failure, message, status } = retryReason;
        throw new GitLabError(
          failure,
          `${message} (gave up after ${failures} attempts in ${(elapsed / 1000).toFixed(1)} s)`,
          status === undefined ? {} : { status },
        );
      }
      await pause(Math.min(backoffMs(failures - 1, random), maxRetryMs - elapsed));
    }
  };
}

/**
 * One attempt's signal: aborted by its own timeout or by either source. Made with a timer and
 * listeners that are let go when the attempt ends, not with AbortSignal.any: that one ties every
 * attempt's signal to a source that lives as long as the service, and slows as they pile up.
 */
function attemptSignal(timeoutMs: number, sources: (AbortSignal | undefined)[]): { signal: AbortSignal; timedOut(): boolean; release(): void } {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException('the attempt timed out', 'TimeoutError'));
  }, timeoutMs);
  const onAbort = () => controller.abort(new DOMException('the work it was for stopped', 'AbortError'));
  const live = sources.filter((source): source is AbortSignal => source !== undefined);
  for (const source of live) {
    if (source.aborted) onAbort();
    else source.addEventListener('abort', onAbort, { once: true });
  }
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    release() {
      clearTimeout(timer);
      for (const source of live) source.removeEventListener('abort', onAbort);
    },
  };
}

function failureOf(status: number): GitLabFailure {
  switch (status) {
    case 401:
      return 'UNAUTHORIZED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    default:
      return 'BAD_RESPONSE';
  }
}

async function parseBody(response: Response, asStream: boolean): Promise<FormattedResponse['body']> {
  if (asStream) return response.body as FormattedResponse['body'];
  if (response.status === 204) return null;
  const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
  if (type === 'application/json') {
    const text = await response.text();
    return text === '' ? {} : ((JSON.parse(text) as FormattedResponse['body']) ?? {});
  }
  if (type.startsWith('text/')) return response.text();
  return response.blob();
}

/** GitLab's own words for a failure (its JSON `message` or `error`), short. */
async function describe(response: Response, clean: (text: string) => string): Promise<string> {
  let text: string;
  try {
    text = clean(await response.text());
  } catch {
    return '';
  }
  let description = text;
  if ((response.headers.get('content-type') ?? '').includes('json')) {
    try {
      const json = JSON.parse(text) as Record<string, unknown> | null;
      const said = json?.message ?? json?.error_description ?? json?.error ?? '';
      description = typeof said === 'string' ? said : JSON.stringify(said);
    } catch {
      // not JSON after all: the raw text will do
    }
  }
  description = description.replace(/\s+/g, ' ').trim();
  return description.length > MAX_DESCRIPTION ? `${description.slice(0, MAX_DESCRIPTION)}…` : description;
}

/** The innermost reason of a fetch failure ("connect ECONNREFUSED 127.0.0.1:9"), not undici's "fetch failed". */
/** Methods that may do something twice when sent twice: retried only when no connection was made. */
const NOT_IDEMPOTENT = new Set(['POST', 'PATCH']);
/** Failures before a connection was made: the request cannot have reached GitLab. */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** Whether the error (or one of its causes) says no connection was made. */
function neverConnected(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECT_FAILURES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

function networkReason(error: unknown): string {
  let current: unknown = error;
  let reason = 'no answer';
  for (let depth = 0; current && depth < 5; depth += 1) {
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      reason = current.message || (typeof code === 'string' ? code : reason);
      if (typeof code === 'string' && !reason.includes(code)) reason = `${code} ${reason}`;
      current = (current as { cause?: unknown }).cause;
    } else {
      break;
    }
  }
  return reason;
}

/** Whether a secret can be a GitLab token: printable ASCII without spaces, as GitLab's tokens are. */
export function sendableToken(token: string): boolean {
  return /^[\x21-\x7e]+$/.test(token);
}

/** A header's value as fetch sends it: without the spaces, tabs and line breaks around it. */
export function asSent(value: string): string {
  return value.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
}

/** Whether a header's value is printable ASCII as sent: fetch refuses other text, quoting where it found it. */
function printable(value: string): boolean {
  return /^[\x20-\x7e]*$/.test(asSent(value));
}

/** The values of the headers that authenticate. */
function authenticating(headers: Record<string, string>): string[] {
  return Object.entries(headers)
    .filter(([name]) => ['private-token', 'job-token', 'authorization'].includes(name.toLowerCase()))
    .map(([, value]) => value);
}

/** The values of the headers that authenticate (and an authorization's credentials alone), so that no text we build can carry them. */
function secretsOf(headers: Record<string, string>): string[] {
  return authenticating(headers)
    .flatMap((value) => [value, value.replace(/^\S+\s+/, '')])
    .filter((secret) => secret.length >= 4);
}

function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out;
}
