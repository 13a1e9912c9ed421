import { lstat, opendir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FolderStorage } from './storage';

/** A mirror being made, renamed into place once whole (see git/mirror). */
const MIRROR_BEING_MADE = /^\..*\.building$/;

/**
 * Removes what interrupted work left in the backups folder: scratch folders of runs and restores,
 * mirrors that were never made whole, temporary files of object puts. Only what nothing has
 * touched for `olderThanMs`: the same folder may be in use by a run of this or another process,
 * and work under way keeps its files younger than that. Answers how many entries went.
 */
export async function sweepLeftovers(root: string, olderThanMs: number): Promise<number> {
  const before = Date.now() - olderThanMs;
  let removed = 0;
  const removeIfOld = async (path: string) => {
    if ((await newestChange(path)) >= before) return;
    await rm(path, { recursive: true, force: true });
    removed += 1;
  };
  for (const name of await namesIn(join(root, 'scratch'))) await removeIfOld(join(root, 'scratch', name));
  for (const tenant of await namesIn(join(root, 'mirrors'))) {
    for (const name of await namesIn(join(root, 'mirrors', tenant))) {
      if (MIRROR_BEING_MADE.test(name)) await removeIfOld(join(root, 'mirrors', tenant, name));
    }
  }
  // Half-written objects of the folder storages, all of which live under storage/.
  return removed + (await new FolderStorage(join(root, 'storage')).sweepTemporary(olderThanMs));
}

async function namesIn(folder: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of await opendir(folder)) names.push(entry.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return names;
}

/** The latest modification under the path (itself included); links are not followed. */
async function newestChange(path: string): Promise<number> {
  let info: Awaited<ReturnType<typeof lstat>>;
  try {
    info = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Number.POSITIVE_INFINITY;
    throw error;
  }
  let newest = info.mtimeMs;
  if (info.isDirectory()) {
    for (const name of await namesIn(path)) newest = Math.max(newest, await newestChange(join(path, name)));
  }
  return newest;
}
