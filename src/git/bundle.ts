import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { STALE_LOCK_MS, withLock } from './lock';
import { type GitRef, listRefs, parseRefLines } from './refs';
import { type GitStream, runGit } from './run';

const DEFAULT_TIMEOUT_MS = 30 * 60_000;

/**
 * Writes every ref of the repository in `dir` and the objects they reach into one bundle file;
 * null, and no file, when the repository has no ref (git refuses an empty bundle).
 *
 * One thread searches for deltas, so that two bundles of an unchanged mirror are byte-identical
 * and storage keeps one (it stores by content hash). Measured on git 2.39 with a mirror of 2,000
 * objects, 48 of them loose: with pack.threads=8 five bundles came out in three different forms,
 * with 1 thread always in one. It costs little: the objects a fetch brought are in packs already
 * deltified, and those deltas are reused whatever the threads; only loose objects are searched.
 */
export async function bundleTo(dir: string, file: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<{ refs: GitRef[] } | null> {
  // Under the mirror's own lock: a fetch into it (another plan's run) cannot move its refs between
  // the listing and the bundle, so the refs returned are exactly those the bundle holds.
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  return withLock(`${dir}.lock`, { staleMs: STALE_LOCK_MS, deadline, signal: options.signal }, async () => {
    const refs = await listRefs(dir);
    if (refs.length === 0) return null;
    await runGit(['bundle', 'create', '--quiet', resolve(file), '--all'], {
      ...options,
      timeoutMs: Math.max(1, deadline - Date.now()),
      gitDir: dir,
      config: { 'pack.threads': '1' },
      operation: `bundling ${dir}`,
    });
    return { refs };
  });
}

/** The bundle bundleTo writes, as a stream (to encrypt and store without a file); null when there is no ref. */
export async function bundleStream(dir: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<(GitStream & { refs: GitRef[] }) | null> {
  const refs = await listRefs(dir);
  if (refs.length === 0) return null;
  const stream = runGit(['bundle', 'create', '--quiet', '-', '--all'], {
    ...options,
    gitDir: dir,
    config: { 'pack.threads': '1' },
    operation: `bundling ${dir}`,
    stdout: 'stream',
  });
  return { ...stream, refs };
}

/** The refs a bundle holds (HEAD among them when it was bundled), read from its header. */
export async function bundleRefs(file: string): Promise<GitRef[]> {
  return inScratchRepository(async (scratch) => {
    const { stdout } = await runGit(['bundle', 'list-heads', resolve(file)], { gitDir: scratch, operation: `reading the bundle ${file}` });
    return parseRefLines(stdout.toString('utf8'));
  });
}

/**
 * Whether git takes `file` as a bundle it could apply (its header, and the commits it needs
 * present, none for a full one); a GitError saying why not. The objects themselves are checked
 * only by a clone and a fsck (cloneBundle, then checkRepository).
 */
export async function verifyBundle(file: string): Promise<void> {
  await inScratchRepository((scratch) =>
    runGit(['bundle', 'verify', '--quiet', resolve(file)], { gitDir: scratch, operation: `verifying the bundle ${file}` }),
  );
}

/** A bare mirror in `dir` of everything in the bundle, as the repository it came from. */
export async function cloneBundle(file: string, dir: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
  // A bundle is read through git's local transport, which the fixed settings close for remotes.
  await runGit(['clone', '--quiet', '--mirror', resolve(file), resolve(dir)], {
    ...options,
    config: { 'protocol.file.allow': 'always' },
    operation: `cloning the bundle ${file}`,
  });
}

/** `git fsck --strict` of a repository: a GitError with what it found wrong. */
export async function checkRepository(dir: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
  await runGit(['fsck', '--strict', '--no-progress', '--no-dangling'], { ...options, gitDir: dir, operation: `checking the repository in ${dir}` });
}

/** git reads a bundle's header inside a repository (2.39 refuses outside one): an empty one, removed after. */
async function inScratchRepository<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'backplane-bundle-'));
  try {
    await runGit(['init', '--quiet', '--bare', dir], { operation: 'preparing to read a bundle' });
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
