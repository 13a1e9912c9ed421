import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { SnapshotStore } from './app/backup/snapshot-store';
import type { BackupPlaces, S3Settings, StorageCheck, StorageSettings } from './app/backup/storages';
import { BackplaneError } from './errors';
import { bundleTo } from './git';
import { chunk, deriveKey, EncryptedObjectStore, FolderStorage, type ObjectStorage, S3Storage, StorageError } from './storage';

/** How to open one of a tenant's storages, S3 secret included; null: the tenant has no such storage (now). */
export type StorageLookup = (tenantId: string, storageId: string) => Promise<StorageSettings | null>;

/**
 * Backups in the data folder and the tenants' buckets: each tenant's default storage and the
 * LOCAL ones it added (folders of the data folder), its S3 storages, all encrypted under a key
 * derived from the master key for that tenant alone; its git mirrors, and scratch space.
 */
export function backupPlaces(dataDir: string, masterKey: Buffer, lookup: StorageLookup): BackupPlaces {
  const root = join(dataDir, 'backups');
  // An open storage per (tenant, storage), looked up at its first use. A failure to open, or a
  // storage that refuses or cannot be reached, drops it: the next use looks it up again, and so
  // sees a removal or a changed password.
  const opened = new Map<string, Promise<{ store: EncryptedObjectStore; close(): void }>>();
  const keyOf = (tenantId: string, storageId: string) => JSON.stringify([tenantId, storageId]);
  // One key per tenant for all its storages: a snapshot's objects have the same names wherever they are kept.
  const keyFor = (tenantId: string) => deriveKey(masterKey, `storage:${tenantId}`);

  const forget = (tenantId: string, storageId: string) => {
    const key = keyOf(tenantId, storageId);
    const entry = opened.get(key);
    opened.delete(key);
    entry?.then((open) => open.close()).catch(() => undefined);
  };

  const open = (tenantId: string, storageId: string) => {
    const key = keyOf(tenantId, storageId);
    let entry = opened.get(key);
    if (entry === undefined) {
      entry = (async () => {
        const settings = await lookup(tenantId, storageId);
        if (settings === null) throw new BackplaneError('NOT_FOUND', `no storage ${storageId}`);
        const objects = objectStorage(settings, join(root, 'storage', folderOf(tenantId)), storageId);
        return { store: new EncryptedObjectStore(objects, keyFor(tenantId)), close: () => (objects instanceof S3Storage ? objects.close() : undefined) };
      })();
      opened.set(key, entry);
      entry.catch(() => {
        if (opened.get(key) === entry) opened.delete(key);
      });
    }
    return entry;
  };

  return {
    store(tenantId, storageId) {
      return coded(
        async () => (await open(tenantId, storageId)).store,
        new EncryptedObjectStore(NOWHERE, keyFor(tenantId)),
        () => forget(tenantId, storageId),
      );
    },
    forget,
    checkS3: (settings) => checkS3(settings),
    mirrors: (tenantId) => join(root, 'mirrors', folderOf(tenantId)),
    scratch: join(root, 'scratch'),
    chunks: (file) => chunk(createReadStream(file)),
    bundle: async (mirror, file) => (await bundleTo(mirror, file)) !== null,
  };
}

/** Where a storage's objects live: the tenant's folder for its default storage, a folder of it for the LOCAL ones it added, a bucket. */
function objectStorage(settings: StorageSettings, tenantFolder: string, storageId: string): ObjectStorage {
  if (settings.kind === 'LOCAL') {
    if (settings.isDefault) return new FolderStorage(tenantFolder);
    return new FolderStorage(settings.path ?? join(tenantFolder, storageId));
  }
  return s3Storage(settings);
}

function s3Storage(settings: S3Settings): S3Storage {
  return new S3Storage({
    endpoint: settings.endpoint ?? undefined,
    bucket: settings.bucket,
    region: settings.region,
    prefix: settings.prefix,
    forcePathStyle: settings.forcePathStyle,
    accessKeyId: settings.accessKeyId,
    secretAccessKey: settings.secretAccessKey,
  });
}

async function checkS3(settings: S3Settings): Promise<StorageCheck> {
  let s3: S3Storage;
  try {
    s3 = s3Storage(settings);
  } catch (error) {
    // The prefix, refused by the storage before any request.
    if (error instanceof RangeError) return { ok: false, failure: 'UNAVAILABLE', message: error.message };
    throw error;
  }
  try {
    await s3.check();
    return { ok: true };
  } catch (error) {
    if (!(error instanceof StorageError)) throw error;
    return { ok: false, failure: error.code === 'DENIED' ? 'DENIED' : error.code === 'UNAVAILABLE' ? 'UNAVAILABLE' : 'DAMAGED', message: error.message };
  } finally {
    s3.close();
  }
}

/**
 * A store whose failures carry Backplane's codes: an object missing or altered, or a storage out
 * of reach. A storage out of reach (or refusing us) is let go, to be opened afresh at the next use.
 * Names need no storage: they are keyed hashes, computed by `namer`.
 */
function coded(store: () => Promise<EncryptedObjectStore>, namer: EncryptedObjectStore, letGo: () => void): SnapshotStore {
  const recode = (error: unknown): unknown => {
    if (!(error instanceof StorageError)) return error;
    const damaged = error.code === 'NOT_FOUND' || error.code === 'CORRUPT';
    if (!damaged) letGo();
    return new BackplaneError(damaged ? 'SNAPSHOT_DAMAGED' : 'STORAGE_UNAVAILABLE', error.message);
  };
  const recoded = async <T>(run: (store: EncryptedObjectStore) => Promise<T>): Promise<T> => {
    const opened = await store();
    try {
      return await run(opened);
    } catch (error) {
      throw recode(error);
    }
  };
  return {
    put: (plain) => recoded((opened) => opened.put(plain)),
    get: (sha256) => recoded((opened) => opened.get(sha256)),
    has: (sha256) => recoded((opened) => opened.has(sha256)),
    nameOf: (sha256) => namer.nameOf(sha256),
    async *list() {
      const opened = await store();
      try {
        yield* opened.list();
      } catch (error) {
        throw recode(error);
      }
    },
    removeName: (name) => recoded((opened) => opened.removeName(name)),
  };
}

/** Where nothing is stored: a store over it only names objects. */
const NOWHERE: ObjectStorage = {
  put: () => Promise.reject(new Error('nowhere stores nothing')),
  get: () => Promise.reject(new Error('nowhere stores nothing')),
  stat: () => Promise.reject(new Error('nowhere stores nothing')),
  list: () => {
    throw new Error('nowhere stores nothing');
  },
  delete: () => Promise.reject(new Error('nowhere stores nothing')),
};

/** A tenant's folder name: its id when that is a plain name, else a hash of it. */
function folderOf(tenantId: string): string {
  return /^[A-Za-z0-9-]{1,64}$/.test(tenantId) ? tenantId : createHash('sha256').update(tenantId).digest('hex').slice(0, 32);
}
