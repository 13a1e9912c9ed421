import { GitError } from './errors';
import { withoutUserinfo } from './redact';
import { type GitRef, listRefs, parseRefLines } from './refs';
import { runGit } from './run';
import { checkRemoteUrl } from './url';

export interface PushMirrorOptions {
  /** The repository pushed from (a mirror, or a clone of a bundle). */
  dir: string;
  /** The new, empty project's http(s) URL, without user or password. */
  url: string;
  token?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Called for each HTTP request made of the remote. */
  onRequest?: () => void;
}

export interface PushResult {
  pushed: GitRef[];
  /** Refs GitLab keeps for itself and refuses on push (merge requests', pipelines', environments', keep-around): not sent. */
  leftOut: string[];
}

/** What a push may write into a GitLab project: the rest of refs/ is GitLab's own. */
const PUSHED = ['refs/heads/', 'refs/tags/', 'refs/notes/'];
const REFSPECS = PUSHED.map((prefix) => `+${prefix}*:${prefix}*`);

/**
 * Pushes the branches, tags and notes of `dir` to `url` (a restore into a new project), all or
 * none (--atomic). A project that has refs already is refused before anything is sent: a forced
 * push would replace its history. The URL is given on the command line, not stored as a remote,
 * so the repository pushed from is not changed.
 */
export async function pushMirror(options: PushMirrorOptions): Promise<PushResult> {
  checkRemoteUrl(options.url);
  const refs = await listRefs(options.dir);
  const pushed = refs.filter((ref) => PUSHED.some((prefix) => ref.name.startsWith(prefix)));
  const leftOut = refs.filter((ref) => !pushed.includes(ref)).map((ref) => ref.name);
  const remote = { token: options.token, signal: options.signal, timeoutMs: options.timeoutMs, remote: options.url, onRequest: options.onRequest };
  const present = parseRefLines((await runGit(['ls-remote', options.url], { ...remote, operation: 'git ls-remote' })).stdout.toString('utf8'));
  if (present.length > 0) {
    throw new GitError(`${withoutUserinfo(options.url)} is not empty (${present.length} refs): a restore pushes into a new, empty project only`);
  }
  // Without --porcelain, git names each ref the server refused on stderr, which goes into the error.
  if (pushed.length > 0) await runGit(['push', '--quiet', '--atomic', options.url, ...REFSPECS], { ...remote, gitDir: options.dir, operation: 'git push' });
  return { pushed, leftOut };
}
