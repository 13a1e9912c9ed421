import type { GitLabPort, GitLabSession, SessionOptions } from '../app/gitlab-port';
import { GitLabClient } from './client';
import { exchangeCode, refreshTokens } from './oauth';
import { verifyOAuthToken, verifyToken } from './verify';

export interface GitLabSettings {
  /** The most one HTTP attempt may take (ms). */
  timeoutMs: number;
  /** How long 5xx answers, timeouts and unreachable hosts are retried before a call fails (ms). */
  maxRetryMs: number;
  /** How long a token check keeps retrying an unreachable or failing GitLab (ms): a person waits for it. */
  checkMaxRetryMs: number;
}

/** GitLab through @gitbeaker/rest, one client per token. */
export function gitlabPort(settings: GitLabSettings): GitLabPort {
  return {
    checkToken({ gitlabUrl, token, kind, login, groupPath, scopes }) {
      const client = new GitLabClient({ baseUrl: gitlabUrl, token, kind }, { timeoutMs: settings.timeoutMs, maxRetryMs: settings.checkMaxRetryMs });
      if (kind === 'oauth') return verifyOAuthToken(client, { groupPath, scopes });
      if (login === null) return Promise.resolve({ ok: false, failure: 'LOGIN_MISMATCH', reason: 'a personal access token is checked against a login, and none was given' });
      return verifyToken(client, { login, groupPath });
    },
    session({ gitlabUrl, token, kind }, options: SessionOptions = {}): GitLabSession {
      return new GitLabClient({ baseUrl: gitlabUrl, token, kind }, { timeoutMs: settings.timeoutMs, maxRetryMs: settings.maxRetryMs, ...options });
    },
    exchangeCode({ gitlabUrl, app, code, redirectUri, verifier }) {
      return exchangeCode(gitlabUrl, app, { code, redirectUri, verifier }, { timeoutMs: settings.timeoutMs });
    },
    refreshTokens({ gitlabUrl, app, refreshToken }) {
      return refreshTokens(gitlabUrl, app, refreshToken, { timeoutMs: settings.timeoutMs });
    },
  };
}
