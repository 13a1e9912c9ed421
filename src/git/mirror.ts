import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GitError } from './errors';
import { STALE_LOCK_MS, withLock } from './lock';
import { redact } from './redact';
import { type GitRef, listRefs, packedRefsOnly, parseRefLines, sameRefs, symbolicHead } from './refs';
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

type Remote = { token?: string; signal?: AbortSignal; remote: string; onRequest?: () => void };

/**
 * Brings the bare mirror in `dir` up to the remote, every ref (merge requests' and tags too),
 * pruning what the remote no longer has. A missing mirror is cloned whole; for one that exists,
 * when the remote's refs are the mirror's already, only the ref advertisement is asked for.
 *
 * Each git process costs a fork of this (large) process, more than the work of a small
 * repository: the common paths start as few as they can.
 */
export async function fetchMirror(options: FetchMirrorOptions): Promise<MirrorState> {
  checkRemoteUrl(options.url);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  // The whole call, waiting for another fetch of the mirror included, takes at most timeoutMs.
  const left = () => Math.max(1, deadline - Date.now());
  return withLock(`${options.dir}.lock`, { staleMs: STALE_LOCK_MS, deadline, signal: options.signal }, async () => {
    const remote: Remote = { token: options.token, signal: options.signal, remote: options.url, onRequest: options.onRequest };
    if (!(await exists(options.dir))) return cloneMirror(options.url, options.dir, remote, left);
    await checkOrigin(options.url, options.dir, options.followMoves === true);
    const before = await listRefs(options.dir);
    const advertised = await runGit(['ls-remote', '--symref', 'origin'], { ...remote, gitDir: options.dir, timeoutMs: left(), operation: 'git ls-remote' });
    const text = advertised.stdout.toString('utf8');
    const head = text.match(/^ref: refs\/heads\/(\S+)\tHEAD$/m)?.[1] ?? null;
    const wanted = parseRefLines(text).filter((ref) => ref.name.startsWith('refs/'));
    let refs = before;
    if (!sameRefs(wanted, before)) {
      await runGit(['fetch', '--prune', '--prune-tags', '--no-write-fetch-head', '--quiet', 'origin'], {
        ...remote,
        gitDir: options.dir,
        timeoutMs: left(),
        operation: 'git fetch',
      });
      refs = await listRefs(options.dir);
    }
    if (head && (await headOf(options.dir)) !== head) {
      await runGit(['symbolic-ref', 'HEAD', `refs/heads/${head}`], { gitDir: options.dir, operation: `setting HEAD of ${options.dir}` });
    }
    return { refs, changed: !sameRefs(before, refs), head };
  });
}

/**
 * A new mirror: one `git clone --mirror` (refs, objects, HEAD and the remote's settings in one
 * process) into a folder beside `dir`, renamed in place once whole, so a half-made one is never found.
 */
async function cloneMirror(url: string, dir: string, remote: Remote, left: () => number): Promise<MirrorState> {
  await mkdir(dirname(dir), { recursive: true });
  const building = join(dirname(dir), `.${randomBytes(6).toString('hex')}.building`);
  try {
    // The URL stored in the mirror's config is the one given, without a token (the token travels in the environment).
    await runGit(['clone', '--mirror', '--quiet', url, building], { ...remote, timeoutMs: left(), operation: 'git clone' });
    const refs = (await packedRefsOnly(building)) ?? (await listRefs(building));
    // The branch HEAD names, once it is one of the refs (an empty repository's HEAD names none yet).
    const named = await headOf(building);
    const head = named !== null && refs.some((ref) => ref.name === `refs/heads/${named}`) ? named : null;
    await rename(building, dir);
    return { refs, changed: refs.length > 0, head };
  } finally {
    await rm(building, { recursive: true, force: true });
  }
}

/** The mirror's origin must be `url` (or, following a move, becomes it). */
async function checkOrigin(url: string, dir: string, followMoves: boolean): Promise<void> {
  const { stdout } = await runGit(['config', '--get', 'remote.origin.url'], { gitDir: dir, operation: `reading the mirror in ${dir}` }).catch(() => {
    throw new GitError(`${dir} is not a mirror Backplane made: it has no origin`);
  });
  const stored = stdout.toString('utf8').trim();
  if (stored === url) return;
  if (!followMoves) throw new GitError(`${dir} mirrors ${redact(stored)}, not ${redact(url)}`);
  await runGit(['config', 'remote.origin.url', url], { gitDir: dir, operation: `moving the mirror in ${dir}` });
}

/** The branch the mirror's HEAD names, when it is read without git (see symbolicHead): else null, which at worst costs a `git symbolic-ref` not needed. */
async function headOf(dir: string): Promise<string | null> {
  return (await symbolicHead(dir))?.slice('refs/heads/'.length) ?? null;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
