import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { EncryptedObjectStore } from '../../src/storage/encrypted-store';
import { FolderStorage } from '../../src/storage/folder-storage';
import { deriveKey } from '../../src/storage/keys';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let root: string;
let storage: FolderStorage;
let store: EncryptedObjectStore;
const masterKey = randomBytes(32);

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'encrypted-store-'));
  storage = new FolderStorage(root);
  store = new EncryptedObjectStore(storage, deriveKey(masterKey, 'storage:tenant-a'), { prefix: 'tenant-a/' });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function storedFiles(): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

async function names(of: EncryptedObjectStore): Promise<string[]> {
  const found: string[] = [];
  for await (const { name } of of.list()) found.push(name);
  return found.sort();
}

describe('deriveKey', () => {
  it('gives 32 bytes, the same for the same purpose and different for another', () => {
    const key = deriveKey(masterKey, 'storage:t1');
    expect(key.length).toBe(32);
    expect(deriveKey(masterKey, 'storage:t1').equals(key)).toBe(true);
    expect(deriveKey(masterKey, 'storage:t2').equals(key)).toBe(false);
    expect(deriveKey(randomBytes(32), 'storage:t1').equals(key)).toBe(false);
    expect(() => deriveKey(Buffer.alloc(16), 'storage:t1')).toThrow();
  });
});

describe('EncryptedObjectStore', () => {
  it('gives back what was put, by its SHA-256', async () => {
    const plain = randomBytes(10_000);
    const stored = await store.put(plain);
    expect(stored).toEqual({ sha256: sha256(plain), size: 10_000, storedBytes: expect.any(Number), isNew: true });
    expect((await store.get(stored.sha256)).equals(plain)).toBe(true);
    expect(await store.has(stored.sha256)).toBe(true);

    const empty = await store.put(Buffer.alloc(0));
    expect((await store.get(empty.sha256)).length).toBe(0);
  });

  it('stores the same content once', async () => {
    const plain = Buffer.from('the same bundle chunk, twice');
    const first = await store.put(plain);
    const second = await store.put(Buffer.from(plain));
    expect(first.isNew).toBe(true);
    expect(first.storedBytes).toBeGreaterThan(0);
    expect(second).toEqual({ sha256: first.sha256, size: plain.length, storedBytes: 0, isNew: false });
    expect(await storedFiles()).toHaveLength(1);
  });

  it('writes again an object whose stored size no sealing could have', async () => {
    const plain = randomBytes(1000);
    const { sha256: sha } = await store.put(plain);
    const [file] = await storedFiles();
    await writeFile(file, Buffer.alloc(5));
    const again = await store.put(plain);
    expect(again.isNew).toBe(true);
    expect((await store.get(sha)).equals(plain)).toBe(true);
  });

  it('compresses what compresses, and only that', async () => {
    const text = Buffer.from('{"title":"an issue","labels":["backup"]}\n'.repeat(5000));
    const compressed = await store.put(text);
    expect(compressed.storedBytes).toBeLessThan(text.length / 10);
    expect((await store.get(compressed.sha256)).equals(text)).toBe(true);

    const noise = randomBytes(50_000);
    const sealed = await store.put(noise);
    // Header, IV and tag: 33 bytes over the plain size, no more.
    expect(sealed.storedBytes).toBe(noise.length + 33);
  });

  it('keeps nothing readable in storage: neither the content, nor its hex or base64, nor its SHA-256', async () => {
    const secret = ['glpat', 'Xy9fake0000token00zz'].join('-');
    const plain = Buffer.from(`issue body SECRET-MARKER ${secret} `.repeat(3));
    const { sha256: sha } = await store.put(plain);
    const needles = ['SECRET-MARKER', secret, sha]
      .flatMap((text) => [Buffer.from(text), Buffer.from(Buffer.from(text).toString('hex')), Buffer.from(Buffer.from(text).toString('base64').slice(0, 16))])
      .concat([Buffer.from(sha, 'hex')]);
    const files = await storedFiles();
    expect(files).toHaveLength(1);
    for (const file of files) {
      expect(file).not.toContain(sha);
      const bytes = await readFile(file);
      for (const needle of needles) expect(bytes.includes(needle)).toBe(false);
    }
  });

  it('names objects by a keyed hash, not by their SHA-256, under <prefix>objects/<2 hex>/', async () => {
    const { sha256: sha } = await store.put(Buffer.from('named'));
    const name = store.nameOf(sha);
    expect(name).toMatch(/^[0-9a-f]{64}$/);
    expect(name).not.toBe(sha);
    expect(await storedFiles()).toEqual([join(root, 'tenant-a/objects', name.slice(0, 2), name)]);
    const other = new EncryptedObjectStore(storage, deriveKey(masterKey, 'storage:tenant-b'), { prefix: 'tenant-b/' });
    expect(other.nameOf(sha)).not.toBe(name);
  });

  it('lists objects by name, removes by hash and by name', async () => {
    const a = await store.put(Buffer.from('a'));
    const b = await store.put(Buffer.from('b'));
    const c = await store.put(Buffer.from('c'));
    await storage.put('tenant-a/manifests/m.json', Buffer.from('{}'));
    await storage.put('tenant-b/objects/aa/stranger', Buffer.from('x'));
    expect(await names(store)).toEqual([store.nameOf(a.sha256), store.nameOf(b.sha256), store.nameOf(c.sha256)].sort());

    await store.remove(a.sha256);
    await store.remove(a.sha256);
    await store.removeName(store.nameOf(b.sha256));
    expect(await names(store)).toEqual([store.nameOf(c.sha256)]);
    expect(await store.has(a.sha256)).toBe(false);
    await expect(store.get(a.sha256)).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(a.sha256) });
  });

  it('refuses a stored object with any one byte flipped, naming the object', async () => {
    const plain = Buffer.from('{"issue":"body"}\n'.repeat(200));
    const { sha256: sha } = await store.put(plain);
    const [file] = await storedFiles();
    const original = await readFile(file);
    for (let at = 0; at < original.length; at++) {
      const damaged = Buffer.from(original);
      damaged[at] ^= 0x01;
      await writeFile(file, damaged);
      const read = store.get(sha);
      await expect(read).rejects.toMatchObject({ code: 'CORRUPT', message: expect.stringContaining(`object ${sha} is corrupt`) });
      await expect(read).rejects.not.toThrow(/issue|body/);
    }
    await writeFile(file, original.subarray(0, original.length - 1));
    await expect(store.get(sha)).rejects.toMatchObject({ code: 'CORRUPT' });
    await writeFile(file, original);
    expect((await store.get(sha)).equals(plain)).toBe(true);
  });

  it('refuses an object moved under another name', async () => {
    const one = await store.put(Buffer.from('one'));
    const two = await store.put(Buffer.from('two'));
    const [first, second] = [store.nameOf(one.sha256), store.nameOf(two.sha256)].map((name) => join(root, 'tenant-a/objects', name.slice(0, 2), name));
    await copyFile(first, second);
    await expect(store.get(two.sha256)).rejects.toMatchObject({ code: 'CORRUPT', message: expect.stringContaining(two.sha256) });
  });

  it('refuses an object read with another key', async () => {
    const plain = Buffer.from('sealed with the key of tenant a');
    const { sha256: sha } = await store.put(plain);
    const wrong = new EncryptedObjectStore(storage, deriveKey(randomBytes(32), 'storage:tenant-a'), { prefix: 'tenant-a/' });
    // Another key names objects otherwise: the object is not found under the name it gives...
    await expect(wrong.get(sha)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // ...and, put where that key looks, it does not open.
    const [file] = await storedFiles();
    const name = wrong.nameOf(sha);
    const target = join(root, 'tenant-a/objects', name.slice(0, 2), name);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(file, target);
    await expect(wrong.get(sha)).rejects.toMatchObject({ code: 'CORRUPT', message: expect.stringContaining(sha) });
  });

  it('refuses hashes that are not a SHA-256 and keys that are not 32 bytes', async () => {
    expect(() => store.nameOf('../../etc')).toThrow();
    await expect(store.get('ABC')).rejects.toThrow();
    expect(() => new EncryptedObjectStore(storage, Buffer.alloc(16))).toThrow();
  });
});
