import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FolderStorage } from '../../src/storage/folder-storage';
import { StorageError } from '../../src/storage/object-storage';

let root: string;
let storage: FolderStorage;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'folder-storage-'));
  storage = new FolderStorage(join(root, 'store'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function collect(prefix: string): Promise<{ key: string; size: number }[]> {
  const found: { key: string; size: number }[] = [];
  for await (const item of storage.list(prefix)) found.push(item);
  return found.sort((a, b) => a.key.localeCompare(b.key));
}

async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

describe('FolderStorage', () => {
  it('stores, reads, sizes, replaces and deletes objects, creating folders as needed', async () => {
    await storage.put('objects/ab/first', Buffer.from('one'));
    await storage.put('manifests/t-1/2026-12-05.json', Buffer.from('{"a":1}'));
    expect((await storage.get('objects/ab/first')).toString()).toBe('one');
    expect(await storage.stat('objects/ab/first')).toEqual({ size: 3 });

    await storage.put('objects/ab/first', Buffer.from('replaced'));
    expect((await storage.get('objects/ab/first')).toString()).toBe('replaced');

    await storage.delete('objects/ab/first');
    expect(await storage.stat('objects/ab/first')).toBeNull();
    await expect(storage.get('objects/ab/first')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(storage.get('objects/ab/first')).rejects.toBeInstanceOf(StorageError);
    await storage.delete('objects/ab/first');
    await storage.delete('never/was');
    expect((await storage.get('manifests/t-1/2026-12-05.json')).toString()).toBe('{"a":1}');
  });

  it('stores an empty object', async () => {
    await storage.put('empty', Buffer.alloc(0));
    expect(await storage.stat('empty')).toEqual({ size: 0 });
    expect((await storage.get('empty')).length).toBe(0);
  });

  it('answers a folder named as a key as absent', async () => {
    await storage.put('a/b', Buffer.from('x'));
    expect(await storage.stat('a')).toBeNull();
    await expect(storage.get('a')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await storage.delete('a');
    expect(await storage.stat('a/b')).toEqual({ size: 1 });
  });

  it('lists every key under a prefix, matched as a string, with sizes', async () => {
    await storage.put('objects/ab/one', Buffer.alloc(5));
    await storage.put('objects/ab/two', Buffer.alloc(7));
    await storage.put('objects/abc/three', Buffer.alloc(1));
    await storage.put('objects/cd/four', Buffer.alloc(2));
    await storage.put('manifests/m', Buffer.alloc(3));

    expect(await collect('objects/ab/')).toEqual([
      { key: 'objects/ab/one', size: 5 },
      { key: 'objects/ab/two', size: 7 },
    ]);
    expect((await collect('objects/ab')).map((item) => item.key)).toEqual(['objects/ab/one', 'objects/ab/two', 'objects/abc/three']);
    expect((await collect('')).map((item) => item.key)).toEqual(['manifests/m', 'objects/ab/one', 'objects/ab/two', 'objects/abc/three', 'objects/cd/four']);
    expect(await collect('nothing/')).toEqual([]);
  });

  it('lists nothing from a folder never written to', async () => {
    expect(await collect('')).toEqual([]);
  });

  it('refuses keys that could leave the folder or are not of the alphabet', async () => {
    const bad = ['../escape', 'a/../../escape', '/etc/passwd', 'a//b', 'a/', '', 'UPPER', 'a b', 'a/./b', '..', 'a\\b', 'é', '~tmp-1'];
    for (const key of bad) {
      await expect(storage.put(key, Buffer.from('x'))).rejects.toMatchObject({ code: 'DENIED' });
      await expect(storage.get(key)).rejects.toMatchObject({ code: 'DENIED' });
      await expect(storage.stat(key)).rejects.toMatchObject({ code: 'DENIED' });
      await expect(storage.delete(key)).rejects.toMatchObject({ code: 'DENIED' });
    }
    await expect(collect('../')).rejects.toMatchObject({ code: 'DENIED' });
    await expect(collect('/abs')).rejects.toMatchObject({ code: 'DENIED' });
    expect(await filesUnder(root)).toEqual([]);
  });

  it('keeps objects to their owner: files 0600, folders 0700', async () => {
    await storage.put('deep/er/key', Buffer.from('x'));
    expect((await stat(join(root, 'store/deep/er/key'))).mode & 0o777).toBe(0o600);
    for (const folder of ['store', 'store/deep', 'store/deep/er']) expect((await stat(join(root, folder))).mode & 0o777).toBe(0o700);
  });

  it('leaves no temporary file behind a put', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, index) => storage.put(`objects/same/k${index % 3}`, Buffer.alloc(1000, index))));
    const files = await filesUnder(join(root, 'store'));
    expect(files.map((file) => file.slice(join(root, 'store').length + 1)).sort()).toEqual(['objects/same/k0', 'objects/same/k1', 'objects/same/k2']);
  });

  it('does not list what a crashed put left, and sweeps it once old enough', async () => {
    await storage.put('objects/ab/kept', Buffer.from('kept'));
    const leftover = join(root, 'store/objects/ab/~tmp-0123456789abcdef');
    const fresh = join(root, 'store/objects/ab/~tmp-fedcba9876543210');
    await writeFile(leftover, 'half an obj');
    await writeFile(fresh, 'a put under way');
    const hourAgo = new Date(Date.now() - 3600_000);
    await utimes(leftover, hourAgo, hourAgo);

    expect(await collect('')).toEqual([{ key: 'objects/ab/kept', size: 4 }]);
    expect(await storage.sweepTemporary(60_000)).toBe(1);
    expect((await filesUnder(join(root, 'store'))).sort()).toEqual([join(root, 'store/objects/ab/kept'), fresh]);
    expect(await storage.sweepTemporary(0)).toBe(1);
    expect(await filesUnder(join(root, 'store'))).toEqual([join(root, 'store/objects/ab/kept')]);
    expect((await storage.get('objects/ab/kept')).toString()).toBe('kept');
  });

  it('answers UNAVAILABLE when its folder cannot be made, and names the key, not the bytes', async () => {
    await writeFile(join(root, 'store'), 'a file where the folder should be');
    const put = storage.put('objects/ab/key', Buffer.from('the content'));
    await expect(put).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(put).rejects.toThrow(/objects\/ab\/key/);
    await expect(put).rejects.not.toThrow(/the content/);
  });
});
