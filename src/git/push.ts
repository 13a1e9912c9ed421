import { GitError } from './errors';
import { type GitRef, listRefs } from './refs';
import { runGit } from './run';

export interface PushMirrorOptions {
  /** The repository pushed from (a mirror, or a clone of a bundle). */
  dir: string;
  /** The new, empty project's http(s) URL, without user or password. */
  url: string;
  token?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
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
 * Pushes the branches, tags and notes of `dir` to `url` (a restore into a new project). The URL
 * is given on the command line, not stored as a remote, so the repository is not changed.
 */
export async function pushMirror(options: PushMirrorOptions): Promise<PushResult> {
  const url = new URL(options.url);
  if (url.username || url.password) throw new GitError('a repository URL carries no credentials (give the token apart)');
  const refs = await listRefs(options.dir);
  const pushed = refs.filter((ref) => PUSHED.some((prefix) => ref.name.startsWith(prefix)));
  const leftOut = refs.filter((ref) => !pushed.includes(ref)).map((ref) => ref.name);
  if (pushed.length > 0) {
    await runGit(['push', '--quiet', '--porcelain', options.url, ...REFSPECS], {
      gitDir: options.dir,
      token: options.token,
      signal: options.signal,
      timeoutMs: options.timeoutMs,
      remote: options.url,
      operation: 'git push',
    });
  }
  return { pushed, leftOut };
}
