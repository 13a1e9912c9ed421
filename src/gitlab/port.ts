import type { GitLabPort, GitLabSession, SessionOptions } from '../app/gitlab-port';
import { GitLabClient } from './client';
import { verifyToken } from './verify';

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
    checkToken({ gitlabUrl, token, login, groupPath }) {
      const client = new GitLabClient({ baseUrl: gitlabUrl, token }, { timeoutMs: settings.timeoutMs, maxRetryMs: settings.checkMaxRetryMs });
      return verifyToken(client, { login, groupPath });
    },
    session({ gitlabUrl, token }, options: SessionOptions = {}): GitLabSession {
      return new GitLabClient({ baseUrl: gitlabUrl, token }, { timeoutMs: settings.timeoutMs, maxRetryMs: settings.maxRetryMs, ...options });
    },
  };
}
