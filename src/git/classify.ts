import type { GitLabFailure } from '../gitlab/types';

export interface RemoteFailure {
  failure: GitLabFailure;
  status?: number;
  /** What the failure means, for a person. */
  reason: string;
}

/** git's words for an HTTP status it got, then the ones for no answer at all, first match wins. */
const PATTERNS: [RegExp, (match: RegExpMatchArray) => RemoteFailure][] = [
  [/returned error: (\d{3})|HTTP (\d{3})/, (match) => byStatus(Number(match[1] ?? match[2]))],
  [
    /Authentication failed|could not read (Username|Password)|terminal prompts disabled/i,
    () => ({ failure: 'UNAUTHORIZED', status: 401, reason: 'the token was refused (invalid, revoked or expired)' }),
  ],
  [
    /repository '.*' not found|Repository not found|could not be found/i,
    () => ({ failure: 'NOT_FOUND', status: 404, reason: 'no such repository, or not visible to this token' }),
  ],
  [/\[remote rejected\]|You are not allowed to (push|force push)/, () => ({ failure: 'FORBIDDEN', reason: 'the server refused the push of some refs' })],
  [/timed out|Timeout was reached/i, () => ({ failure: 'TIMEOUT', reason: 'no answer in time' })],
  [
    /Could not resolve (host|proxy)|Connection refused|Failed to connect|Couldn't connect|Connection reset|SSL|certificate|TLS|remote end hung up|early EOF|Empty reply/i,
    () => ({ failure: 'UNREACHABLE', reason: 'no answer from the server' }),
  ],
  [
    /protocol error|bad pack|not valid: is this a git repository|unexpected|invalid packet|did not send all necessary objects/i,
    () => ({ failure: 'BAD_RESPONSE', reason: 'an answer that is not git' }),
  ],
];

function byStatus(status: number): RemoteFailure {
  if (status === 401) return { failure: 'UNAUTHORIZED', status, reason: 'the token was refused (invalid, revoked or expired)' };
  if (status === 403) return { failure: 'FORBIDDEN', status, reason: 'the token may not do this' };
  if (status === 404) return { failure: 'NOT_FOUND', status, reason: 'no such repository, or not visible to this token' };
  if (status === 429) return { failure: 'RATE_LIMITED', status, reason: 'too many requests for this token' };
  if (status >= 500) return { failure: 'SERVER_ERROR', status, reason: 'the server failed' };
  if (status >= 300 && status < 400) return { failure: 'BAD_RESPONSE', status, reason: 'a redirect, which is not followed with a token' };
  return { failure: 'BAD_RESPONSE', status, reason: `an unexpected HTTP ${status}` };
}

/**
 * How a remote operation failed, read from git's stderr (LC_ALL=C); null when the words are not
 * about the remote, so the failure is a local one.
 */
export function classifyRemoteFailure(stderr: string): RemoteFailure | null {
  for (const [pattern, make] of PATTERNS) {
    const match = stderr.match(pattern);
    if (match) return make(match);
  }
  return null;
}
