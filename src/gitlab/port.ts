import { GitLabClient, type GitLabAuth, type GitLabClientOptions } from './client';
import type { RequestObserver } from './requester';
import { exchangeCode, refreshTokens, type OAuthApplication } from './oauth';
import { verifyOAuthToken, verifyToken, type TokenVerification } from './verify';

/** The login label of the requests of a token check (see checkToken). */
export const TOKEN_CHECK = 'check';

/** The longest one attempt of a token check waits for GitLab (ms). */
const CHECK_ATTEMPT_MS = 10_000;

/** login: whose token it is, where the caller knows (labels the metrics; null: not known). */
type Target = { gitlabUrl: string; token: string; kind?: GitLabAuth['kind']; login?: string | null };

export interface GitLabSettings {
  /** The most one HTTP attempt may take (ms). */
  timeoutMs: number;
  /** How long 5xx answers, timeouts and unreachable hosts are retried before a call fails (ms). */
  maxRetryMs: number;
  /** How long a token check keeps retrying an unreachable or failing GitLab (ms): a person waits for it. */
  checkMaxRetryMs: number;
  /** An observer of the requests made with a login's token (the metrics). */
  observe?: (login: string | null) => RequestObserver;
}

/**
 * GitLab through @gitbeaker/rest, one client per token. It answers the use cases' GitLabPort by
 * its shape, checked where the service is put together: GitLab's side knows nothing of theirs.
 */
export function gitlabPort(settings: GitLabSettings) {
  return {
    checkToken({
      gitlabUrl,
      token,
      kind,
      login,
      groupPath,
      scopes,
    }: Target & { login: string | null; groupPath: string; scopes?: string[] }): Promise<TokenVerification> {
      // Labelled "check", not by the login: that is what was typed, not yet verified, by any tenant's administrator.
      // An attempt waits at most CHECK_ATTEMPT_MS: a person waits for the check, and a GitLab that
      // takes the connection and says nothing is given up on then, not after a whole attempt's time.
      const client = new GitLabClient(
        { baseUrl: gitlabUrl, token, kind },
        {
          timeoutMs: Math.min(settings.timeoutMs, CHECK_ATTEMPT_MS),
          maxRetryMs: settings.checkMaxRetryMs,
          observer: settings.observe?.(TOKEN_CHECK),
        },
      );
      if (kind === 'oauth') return verifyOAuthToken(client, { groupPath, scopes });
      if (login === null)
        return Promise.resolve({ ok: false, failure: 'LOGIN_MISMATCH', reason: 'a personal access token is checked against a login, and none was given' });
      return verifyToken(client, { login, groupPath });
    },
    session({ gitlabUrl, token, kind, login }: Target, options: GitLabClientOptions = {}): GitLabClient {
      return new GitLabClient(
        { baseUrl: gitlabUrl, token, kind },
        { timeoutMs: settings.timeoutMs, maxRetryMs: settings.maxRetryMs, observer: settings.observe?.(login ?? null), ...options },
      );
    },
    exchangeCode({
      gitlabUrl,
      app,
      code,
      redirectUri,
      verifier,
    }: {
      gitlabUrl: string;
      app: OAuthApplication;
      code: string;
      redirectUri: string;
      verifier: string;
    }) {
      return exchangeCode(gitlabUrl, app, { code, redirectUri, verifier }, { timeoutMs: settings.timeoutMs });
    },
    refreshTokens({ gitlabUrl, app, refreshToken }: { gitlabUrl: string; app: OAuthApplication; refreshToken: string }) {
      return refreshTokens(gitlabUrl, app, refreshToken, { timeoutMs: settings.timeoutMs });
    },
  };
}
