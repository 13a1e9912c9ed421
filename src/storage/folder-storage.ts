import { randomBytes } from 'node:crypto';
import { mkdir, open, opendir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { type ObjectStorage, StorageError } from './object-storage';

const KEY = /^[a-z0-9._-]+(\/[a-z0-9._-]+)*$/;
const PREFIX = /^[a-z0-9/._-]*$/;
// '~' is outside the keys' alphabet: a temporary file can never be taken for an object, nor collide with one.
const TEMPORARY = '~tmp-';

/**
 * Objects as files under a root folder, one per key. A put writes a temporary file beside its
 * target, syncs it and renames it into place, so a crash leaves either the old object or the
 * new one under the key, never a part; the folder is synced too, so a put that returned survives.
 */
export class FolderStorage implements ObjectStorage {
  constructor(private readonly root: string) {}

  async put(key: string, body: Buffer): Promise<void> {
    const target = this.pathOf(key);
    const folder = dirname(target);
    const temporary = join(folder, `${TEMPORARY}${randomBytes(8).toString('hex')}`);
    try {
      await this.makeFolder(folder);
      const file = await open(temporary, 'wx', 0o600);
      try {
        await file.writeFile(body);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temporary, target);
      await syncFolder(folder);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw failure(error, `cannot store ${key}`);
    }
  }

  async get(key: string): Promise<Buffer> {
    const path = this.pathOf(key);
    try {
      return await readFile(path);
    } catch (error) {
      if (absent(error)) throw new StorageError('NOT_FOUND', `no object ${key} in the storage folder`);
      throw failure(error, `cannot read ${key}`);
    }
  }

  async stat(key: string): Promise<{ size: number } | null> {
    const path = this.pathOf(key);
    try {
      const found = await stat(path);
      return found.isFile() ? { size: found.size } : null;
    } catch (error) {
      if (absent(error)) return null;
      throw failure(error, `cannot look up ${key}`);
    }
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size: number }> {
    if (!PREFIX.test(prefix) || prefix.split('/').some((part) => part === '..') || prefix.startsWith('/')) {
      throw new StorageError('DENIED', `invalid key prefix ${JSON.stringify(prefix.slice(0, 100))}`);
    }
    // Prefixes match as strings (as S3's do), so the walk starts at the last whole folder named.
    const start = join(this.root, prefix.slice(0, prefix.lastIndexOf('/') + 1));
    for await (const { path, size } of walk(start)) {
      const key = relative(this.root, path);
      if (key.startsWith(prefix) && KEY.test(key)) yield { key, size };
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
      await syncFolder(dirname(path));
    } catch (error) {
      if (absent(error)) return;
      throw failure(error, `cannot delete ${key}`);
    }
  }

  /** Removes what interrupted puts left behind, if older than the age given (younger ones may be puts under way). */
  async sweepTemporary(olderThanMs: number): Promise<number> {
    const before = Date.now() - olderThanMs;
    let removed = 0;
    for await (const { path, modified } of walk(this.root, true)) {
      if (modified >= before) continue;
      await unlink(path).catch((error) => {
        if (!absent(error)) throw failure(error, 'cannot remove a temporary file');
      });
      removed++;
    }
    return removed;
  }

  private pathOf(key: string): string {
    if (!KEY.test(key) || key.split('/').some((part) => part === '.' || part === '..')) {
      throw new StorageError('DENIED', `invalid object key ${JSON.stringify(key.slice(0, 100))}`);
    }
    return join(this.root, key);
  }

  /** Creates the folder and its missing parents, and syncs each parent so that the new entries survive a crash. */
  private async makeFolder(folder: string): Promise<void> {
    const first = await mkdir(folder, { recursive: true, mode: 0o700 });
    if (first === undefined) return;
    for (let at = folder; ; at = dirname(at)) {
      await syncFolder(dirname(at));
      if (at === first || dirname(at) === at) break;
    }
  }
}

async function* walk(folder: string, temporary = false): AsyncGenerator<{ path: string; size: number; modified: number }> {
  let entries: Awaited<ReturnType<typeof opendir>>;
  try {
    entries = await opendir(folder);
  } catch (error) {
    if (absent(error)) return;
    throw failure(error, 'cannot list the storage folder');
  }
  for await (const entry of entries) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* walk(path, temporary);
    else if (entry.isFile() && entry.name.startsWith(TEMPORARY) === temporary) {
      const found = await stat(path).catch((error) => {
        if (absent(error)) return null;
        throw failure(error, 'cannot list the storage folder');
      });
      if (found) yield { path, size: found.size, modified: found.mtimeMs };
    }
  }
}

async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function absent(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  // A key that names a folder (an object under it exists) is as absent as one that names nothing.
  return code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR';
}

function failure(error: unknown, what: string): StorageError {
  if (error instanceof StorageError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
  const denied = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
  return new StorageError(denied ? 'DENIED' : 'UNAVAILABLE', `${what}: ${code}`);
}
