import { open, stat, unlink } from 'node:fs/promises';
import { GitLabError } from '../gitlab/types';

const POLL_MS = 100;

/**
 * Runs `work` holding `path` (created with O_EXCL), so that two fetches into one mirror take turns
 * instead of interleaving their ref updates. A lock older than `staleMs` is the remains of a
 * process that died holding it (a run is killed by then) and is taken over.
 */
export async function withLock<T>(path: string, options: { staleMs: number; signal?: AbortSignal }, work: () => Promise<T>): Promise<T> {
  await acquire(path, options);
  try {
    return await work();
  } finally {
    await unlink(path).catch(() => {});
  }
}

async function acquire(path: string, options: { staleMs: number; signal?: AbortSignal }): Promise<void> {
  for (;;) {
    if (options.signal?.aborted) throw new GitLabError('ABORTED', `waiting for ${path} was stopped: the work it was for stopped`);
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
