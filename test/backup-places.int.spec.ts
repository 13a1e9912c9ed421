import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StorageSettings } from '../src/app/backup/storages';
import { backupPlaces } from '../src/backup-places';
import { S3_DOUBLE_ACCESS_KEY_ID, startS3Double, type S3Double } from './support/s3-double';

// The bucket is s3rver's, a test double started here (test/support/s3-double.ts); no real bucket is used.
const SECRET = `s3-secret-${randomBytes(18).toString('base64url')}`;
const WRONG_SECRET = `s3-wrong-${randomBytes(18).toString('base64url')}`;
const TENANT = 'tenant-a';
const MASTER_KEY = randomBytes(32);

let s3: S3Double;
let dataDir: string;

beforeAll(async () => {
  s3 = await startS3Double(SECRET, ['places']);
  dataDir = await mkdtemp(join(tmpdir(), 'backplane-places-'));
});
afterAll(async () => {
  await s3?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Storages as a lookup sees them, changed by the tests; each lookup counted. */
function storages() {
  const settings = new Map<string, StorageSettings>();
  const lookups: string[] = [];
  return {
    settings,
    lookups,
    lookup: async (tenantId: string, storageId: string) => {
      lookups.push(`${tenantId}/${storageId}`);
      return settings.get(storageId) ?? null;
    },
  };
}

const s3Settings = (secretAccessKey: string, prefix: string): StorageSettings => ({
  kind: 'S3',
  endpoint: s3.endpoint,
  bucket: 'places',
  region: 'us-east-1',
  prefix,
  forcePathStyle: true,
  accessKeyId: S3_DOUBLE_ACCESS_KEY_ID,
  secretAccessKey,
});

describe('backup places: storages opened at their first use', () => {
  it('looks a storage up once while it is fresh, and again once forgotten: a removed one is NOT_FOUND', async () => {
    const { settings, lookups, lookup } = storages();
    settings.set('s-local', { kind: 'LOCAL', isDefault: false, path: null });
    const places = backupPlaces(dataDir, MASTER_KEY, lookup);
    const store = places.store(TENANT, 's-local');
    const put = await store.put(Buffer.from('kept in a folder of its own'));
    expect(await store.has(put.sha256)).toBe(true);
    expect(await places.store(TENANT, 's-local').has(put.sha256)).toBe(true);
    expect(lookups).toEqual([`${TENANT}/s-local`]);

    settings.delete('s-local');
    places.forget(TENANT, 's-local');
    await expect(store.has(put.sha256)).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'no storage s-local' });
    // A storage that is not there is not remembered as missing either.
    settings.set('s-local', { kind: 'LOCAL', isDefault: false, path: null });
    expect(await store.has(put.sha256)).toBe(true);
  });

  it('looks a storage up again once it is older than reopenAfterMs', async () => {
    const { settings, lookups, lookup } = storages();
    settings.set('s-fresh', { kind: 'LOCAL', isDefault: false, path: null });
    const places = backupPlaces(dataDir, MASTER_KEY, lookup, { reopenAfterMs: 0 });
    const store = places.store(TENANT, 's-fresh');
    await store.has('0'.repeat(64));
    await store.has('0'.repeat(64));
    expect(lookups).toHaveLength(2);
  });

  it('lets go of an S3 storage that refuses its secret, so that the changed password is used at the next call', async () => {
    const { settings, lookups, lookup } = storages();
    settings.set('s-s3', s3Settings(WRONG_SECRET, 'changed'));
    const places = backupPlaces(dataDir, MASTER_KEY, lookup);
    const store = places.store(TENANT, 's-s3');
    const refused = await store.put(Buffer.from('x')).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect(String((refused as Error).message)).toContain('HTTP 403');
    expect(String((refused as Error).message)).not.toContain(WRONG_SECRET);

    settings.set('s-s3', s3Settings(SECRET, 'changed'));
    const put = await store.put(Buffer.from('stored once the password is right'));
    expect((await store.get(put.sha256)).toString()).toBe('stored once the password is right');
    expect(lookups).toHaveLength(2);
  });

  it('names objects before the storage is opened, as it does once open', async () => {
    const { settings, lookups, lookup } = storages();
    settings.set('s-names', s3Settings(SECRET, 'names'));
    const places = backupPlaces(dataDir, MASTER_KEY, lookup);
    const store = places.store(TENANT, 's-names');
    const sha = 'a'.repeat(64);
    const before = store.nameOf(sha);
    expect(lookups).toEqual([]);
    const put = await store.put(Buffer.from('named'));
    const listed: string[] = [];
    for await (const entry of store.list()) listed.push(entry.name);
    expect(listed).toEqual([store.nameOf(put.sha256)]);
    expect(store.nameOf(sha)).toBe(before);
    // Another tenant's names differ: names are keyed per tenant.
    expect(places.store('tenant-b', 's-names').nameOf(sha)).not.toBe(before);
  });

  it('refuses an S3 storage whose check fails, saying why without the secret', async () => {
    const places = backupPlaces(dataDir, MASTER_KEY, storages().lookup);
    const { kind: _kind, ...right } = s3Settings(SECRET, 'check') as Extract<StorageSettings, { kind: 'S3' }>;
    expect(await places.checkS3(right)).toEqual({ ok: true });
    const denied = await places.checkS3({ ...right, secretAccessKey: WRONG_SECRET });
    expect(denied).toMatchObject({ ok: false, failure: 'DENIED' });
    expect(JSON.stringify(denied)).not.toContain(WRONG_SECRET);
    expect(await places.checkS3({ ...right, bucket: 'no-such-bucket' })).toMatchObject({ ok: false, failure: 'UNAVAILABLE' });
  });
});
