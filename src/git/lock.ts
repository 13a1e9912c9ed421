import { open, stat, unlink, utimes } from 'node:fs/promises';
import { GitLabError } from '../gitlab/types';
import { GitError } from './errors';

const POLL_MS = 100;

/** A mirror's lock untouched this long is taken for a dead holder's (the holder touches it every 20 s). */
export const STALE_LOCK_MS = 60_000;

interface LockOptions {
  /** How long a lock may go untouched before it is taken for a dead holder's. */
  staleMs: number;
  /** When to stop waiting (epoch ms). */
  deadline: number;
  signal?: AbortSignal;
}

/**
 * Runs `work` holding `path` (created with O_EXCL), so that two fetches into one mirror take turns
 * instead of interleaving their ref updates. The holder touches the lock while it works; a lock
 * left untouched for `staleMs` is the remains of a process that died holding it, and is taken over.
 * Two waiters finding one stale lock at the same instant may both take it: a window of one
 * unlink, accepted, as a process dying with a lock is rare and its takeover rarer still.
 */
export async function withLock<T>(path: string, options: LockOptions, work: () => Promise<T>): Promise<T> {
  await acquire(path, options);
  const beat = setInterval(
    () => {
      const now = new Date();
      utimes(path, now, now).catch(() => {});
    },
    Math.max(50, Math.floor(options.staleMs / 3)),
  );
  try {
    return await work();
  } finally {
    clearInterval(beat);
    await unlink(path).catch(() => {});
  }
}

async function acquire(path: string, options: LockOptions): Promise<void> {
  for (;;) {
    if (options.signal?.aborted) throw new GitLabError('ABORTED', `waiting for ${path} was stopped: the work it was for stopped`);
    if (Date.now() > options.deadline) throw new GitError(`${path} is still held by another run, past this one's time`);
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${process.pid} ${new Date().toISOString()}\n`);
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const held = await stat(path).catch(() => null);
    if (held && Date.now() - held.mtimeMs > options.staleMs) {
      await unlink(path).catch(() => {});
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
