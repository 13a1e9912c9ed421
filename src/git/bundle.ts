import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GitError } from './errors';
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
  // Under the mirror's own lock: a fetch into it (another plan's run) cannot move its refs while
  // the bundle is written. The refs answered are read back from the bundle's own header, which
  // names exactly what it holds, rather than listed by one more git process.
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  return withLock(`${dir}.lock`, { staleMs: STALE_LOCK_MS, deadline, signal: options.signal }, async () => {
    try {
      await runGit(['bundle', 'create', '--quiet', resolve(file), '--all'], {
        ...options,
        timeoutMs: Math.max(1, deadline - Date.now()),
        gitDir: dir,
        config: { 'pack.threads': '1' },
        operation: `bundling ${dir}`,
      });
    } catch (error) {
      // git refuses to write a bundle of nothing: a repository without refs has no bundle.
      if ((await listRefs(dir)).length === 0) return null;
      throw error;
    }
    return { refs: await headerRefs(file) };
  });
}

/** The bundle header's size limit: a line per ref, far below this for any repository we mirror. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;

/**
 * The refs named in a bundle's header (gitformat-bundle: a signature line, capabilities `@...`,
 * prerequisites `-<sha>`, then `<sha> <refname>` lines, up to an empty line), HEAD left out.
 */
export async function headerRefs(file: string): Promise<GitRef[]> {
  const handle = await open(file, 'r');
  try {
    const parts: Buffer[] = [];
    let read = 0;
    for (;;) {
      const piece = Buffer.allocUnsafe(64 * 1024);
      const { bytesRead } = await handle.read(piece, 0, piece.length, read);
      if (bytesRead === 0) throw new GitError(`${file} ends inside its bundle header`);
      parts.push(piece.subarray(0, bytesRead));
      read += bytesRead;
      const header = Buffer.concat(parts);
      const end = header.indexOf('\n\n');
      if (end >= 0) {
        const lines = header.subarray(0, end).toString('utf8').split('\n');
        if (!/^# v[23] git bundle$/.test(lines[0])) throw new GitError(`${file} is not a git bundle`);
        const named = lines.slice(1).filter((line) => !line.startsWith('-') && !line.startsWith('@'));
        return parseRefLines(named.join('\n')).filter((ref) => ref.name.startsWith('refs/'));
      }
      if (read > MAX_HEADER_BYTES) throw new GitError(`${file} has no end to its bundle header`);
    }
  } finally {
    await handle.close();
  }
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
