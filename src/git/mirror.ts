import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GitError } from './errors';
import { STALE_LOCK_MS, withLock } from './lock';
import { redact } from './redact';
import { type GitRef, listRefs, parseRefLines, sameRefs } from './refs';
import { runGit } from './run';
import { checkRemoteUrl } from './url';

export interface FetchMirrorOptions {
  /** http(s), without user or password: the token goes in `token`. */
  url: string;
  /** The bare mirror; created when missing. */
  dir: string;
  token?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Called for each HTTP request made of the remote. */
  onRequest?: () => void;
  /**
   * The mirror is the same repository's whatever its URL (its folder is named by the project's
   * id, and the project was renamed or moved): a changed URL is taken on instead of refused.
   */
  followMoves?: boolean;
}

export interface MirrorState {
  refs: GitRef[];
  /** Whether any ref was added, moved or removed by this fetch. */
  changed: boolean;
  /** The branch the remote's HEAD names, when it said. */
  head: string | null;
}

const DEFAULT_TIMEOUT_MS = 30 * 60_000;

/**
 * Brings the bare mirror in `dir` up to the remote, every ref (merge requests' and tags too),
 * pruning what the remote no longer has. When the remote's refs are the mirror's already, only
 * the ref advertisement is asked for.
 */
export async function fetchMirror(options: FetchMirrorOptions): Promise<MirrorState> {
  checkRemoteUrl(options.url);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  // The whole call, waiting for another fetch of the mirror included, takes at most timeoutMs.
  const left = () => Math.max(1, deadline - Date.now());
  return withLock(`${options.dir}.lock`, { staleMs: STALE_LOCK_MS, deadline, signal: options.signal }, async () => {
    await openMirror(options.url, options.dir, options.followMoves === true);
    const remote = { token: options.token, signal: options.signal, remote: options.url, gitDir: options.dir, onRequest: options.onRequest };
    const before = await listRefs(options.dir);
    const advertised = await runGit(['ls-remote', '--symref', 'origin'], { ...remote, timeoutMs: left(), operation: 'git ls-remote' });
    const text = advertised.stdout.toString('utf8');
    const head = text.match(/^ref: refs\/heads\/(\S+)\tHEAD$/m)?.[1] ?? null;
    const wanted = parseRefLines(text).filter((ref) => ref.name.startsWith('refs/'));
    if (!sameRefs(wanted, before)) {
      await runGit(['fetch', '--prune', '--prune-tags', '--no-write-fetch-head', '--quiet', 'origin'], {
        ...remote,
        timeoutMs: left(),
        operation: 'git fetch',
      });
    }
    if (head) await runGit(['symbolic-ref', 'HEAD', `refs/heads/${head}`], { gitDir: options.dir, operation: `setting HEAD of ${options.dir}` });
    const refs = await listRefs(options.dir);
    return { refs, changed: !sameRefs(before, refs), head };
  });
}

/** The mirror of `url` in `dir`: made whole in a folder beside it and renamed in place, so a half-made one is never found. */
async function openMirror(url: string, dir: string, followMoves: boolean): Promise<void> {
  if (await exists(dir)) {
    const { stdout } = await runGit(['config', '--get', 'remote.origin.url'], { gitDir: dir, operation: `reading the mirror in ${dir}` }).catch(() => {
      throw new GitError(`${dir} is not a mirror Backplane made: it has no origin`);
    });
    const stored = stdout.toString('utf8').trim();
    if (stored === url) return;
    if (!followMoves) throw new GitError(`${dir} mirrors ${redact(stored)}, not ${redact(url)}`);
    await runGit(['config', 'remote.origin.url', url], { gitDir: dir, operation: `moving the mirror in ${dir}` });
    return;
  }
  await mkdir(dirname(dir), { recursive: true });
  const building = join(dirname(dir), `.${randomBytes(6).toString('hex')}.building`);
  try {
    const local = { gitDir: building, operation: `creating the mirror in ${dir}` };
    await runGit(['init', '--quiet', '--bare', building], { operation: local.operation });
    await runGit(['config', 'remote.origin.url', url], local);
    await runGit(['config', 'remote.origin.fetch', '+refs/*:refs/*'], local);
    await runGit(['config', 'remote.origin.mirror', 'true'], local);
    await rename(building, dir);
  } finally {
    await rm(building, { recursive: true, force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
