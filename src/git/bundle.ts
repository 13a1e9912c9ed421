import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GitError } from './errors';
import { STALE_LOCK_MS, withLock } from './lock';
import { type GitRef, listRefs, packedRefsOnly, parseRefLines, symbolicHead } from './refs';
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
    const whole = await onePackBundle(dir, file);
    if (whole !== null) return { refs: whole };
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

/**
 * A repository whose whole content is one pack and whose refs are all packed (what a fresh clone
 * leaves) is bundled as its header (gitformat-bundle v2: the refs, then HEAD, as git writes it)
 * followed by that pack, copied as it is: git would re-read every object to write a pack of the
 * same objects again, in one more process. The pack holds every object the refs reach, since the
 * repository has no other. Its bytes are the server's, not those git would write; a bundle of an
 * unchanged mirror is still the same bytes every time. Null, and nothing written, for any other
 * repository: git makes its bundle.
 */
async function onePackBundle(dir: string, file: string): Promise<GitRef[] | null> {
  const refs = await packedRefsOnly(dir);
  // A v2 bundle names SHA-1 objects only.
  if (refs === null || refs.length === 0 || refs.some((ref) => ref.sha.length !== 40)) return null;
  const headName = await symbolicHead(dir);
  if ((await present(join(dir, 'shallow'))) || (await present(join(dir, 'objects', 'info', 'alternates')))) return null;
  const objects = join(dir, 'objects');
  for (const entry of await readdir(objects, { withFileTypes: true })) {
    if (/^[0-9a-f]{2}$/.test(entry.name) && (!entry.isDirectory() || (await readdir(join(objects, entry.name))).length > 0)) return null;
  }
  const inPack = await readdir(join(objects, 'pack')).catch(() => [] as string[]);
  const packs = inPack.filter((name) => name.endsWith('.pack'));
  if (packs.length !== 1 || !inPack.includes(packs[0].replace(/\.pack$/, '.idx')) || inPack.some((name) => name.endsWith('.promisor'))) return null;
  const head = refs.find((ref) => ref.name === headName);
  if (head === undefined) return null;
  const header = `# v2 git bundle\n${[...refs, { sha: head.sha, name: 'HEAD' }].map((ref) => `${ref.sha} ${ref.name}\n`).join('')}\n`;
  await writeFile(file, header, { flag: 'w', mode: 0o600 });
  await pipeline(createReadStream(join(objects, 'pack', packs[0])), createWriteStream(file, { flags: 'a' }));
  return refs;
}

async function present(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
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
