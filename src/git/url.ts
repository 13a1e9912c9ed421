import { GitError } from './errors';
import { redact } from './redact';

/** A remote as Backplane takes it: http(s), with no user or password in it (the token goes apart, in the environment). */
export function checkRemoteUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new GitError(`not a repository URL: ${redact(url)}`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new GitError(`a repository URL is http(s): ${redact(url)}`);
  if (parsed.username || parsed.password) throw new GitError(`a repository URL carries no credentials (give the token apart): ${redact(url)}`);
}
