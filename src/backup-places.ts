import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { SnapshotStore } from './app/backup/snapshot-store';
import { sweepLeftovers } from './backup-leftovers';
import type { BackupPlaces, S3Settings, StorageCheck, StorageSettings } from './app/backup/storages';
import { BackplaneError } from './errors';
import { bundleTo } from './git';
import { chunk, deriveKey, EncryptedObjectStore, FolderStorage, type ObjectStorage, type S3Storage, StorageError } from './storage';

/** How to open one of a tenant's storages, S3 secret included; null: the tenant has no such storage (now). */
export type StorageLookup = (tenantId: string, storageId: string) => Promise<StorageSettings | null>;

/**
 * Backups in the data folder and the tenants' buckets: each tenant's default storage and the
 * LOCAL ones it added (folders of the data folder), its S3 storages, all encrypted under a key
 * derived from the master key for that tenant alone; its git mirrors, and scratch space.
 */
export function backupPlaces(dataDir: string, masterKey: Buffer, lookup: StorageLookup, options: { reopenAfterMs?: number } = {}): BackupPlaces {
  const root = join(dataDir, 'backups');
  const reopenAfterMs = options.reopenAfterMs ?? REOPEN_AFTER_MS;
  // An open storage per (tenant, storage), looked up at its first use and again once it is a
  // minute old, or as soon as it fails to open, refuses us or cannot be reached: a removal or a
  // changed password (made by this process or another) is seen. One let go is closed once the
  // calls under way on it end.
  const opened = new Map<string, { at: number; open: Promise<OpenStorage> }>();
  const keyOf = (tenantId: string, storageId: string) => JSON.stringify([tenantId, storageId]);
  // One key per tenant for all its storages: a snapshot's objects have the same names wherever they are kept.
  const keyFor = (tenantId: string) => deriveKey(masterKey, `storage:${tenantId}`);

  const letGo = (key: string, entry: { open: Promise<OpenStorage> }) => {
    if (opened.get(key) === entry) opened.delete(key);
    entry.open.then((open) => open.retire()).catch(() => undefined);
  };

  const open = (tenantId: string, storageId: string): Promise<OpenStorage> => {
    const key = keyOf(tenantId, storageId);
    const current = opened.get(key);
    if (current !== undefined && Date.now() - current.at < reopenAfterMs) return current.open;
    if (current !== undefined) letGo(key, current);
    const entry = {
      at: Date.now(),
      open: (async () => {
        const settings = await lookup(tenantId, storageId);
        if (settings === null) throw new BackplaneError('NOT_FOUND', `no storage ${storageId}`);
        const { objects, close } = objectStorage(settings, join(root, 'storage', folderOf(tenantId)), storageId);
        return openStorage(new EncryptedObjectStore(objects, keyFor(tenantId)), close);
      })(),
    };
    opened.set(key, entry);
    entry.open.catch(() => letGo(key, entry));
    return entry.open;
  };

  const forget = (tenantId: string, storageId: string) => {
    const key = keyOf(tenantId, storageId);
    const entry = opened.get(key);
    if (entry !== undefined) letGo(key, entry);
  };

  return {
    store(tenantId, storageId) {
      return coded(
        () => open(tenantId, storageId),
        new EncryptedObjectStore(NOWHERE, keyFor(tenantId)),
        () => forget(tenantId, storageId),
      );
    },
    forget,
    checkS3: (settings) => checkS3(settings),
    mirrors: (tenantId) => join(root, 'mirrors', folderOf(tenantId)),
    scratch: join(root, 'scratch'),
    chunks: (file) => chunk(createReadStream(file)),
    bundle: async (mirror, file) => (await bundleTo(mirror, file))?.refs ?? null,
    sweepLeftovers: (olderThanMs) => sweepLeftovers(root, olderThanMs),
  };
}

/** How long an open storage is used before it is looked up again (ms). */
const REOPEN_AFTER_MS = 60_000;

/** An open storage, and the calls under way on it: one let go is closed when the last of them ends. */
interface OpenStorage {
  use<T>(run: (store: EncryptedObjectStore) => Promise<T>): Promise<T>;
  list(): AsyncIterable<{ name: string; size: number }>;
  retire(): void;
}

function openStorage(store: EncryptedObjectStore, close: () => void): OpenStorage {
  let busy = 0;
  let retired = false;
  const done = () => {
    busy -= 1;
    if (retired && busy === 0) close();
  };
  return {
    async use(run) {
      busy += 1;
      try {
        return await run(store);
      } finally {
        done();
      }
    },
    async *list() {
      busy += 1;
      try {
        yield* store.list();
      } finally {
        done();
      }
    },
    retire() {
      if (retired) return;
      retired = true;
      if (busy === 0) close();
    },
  };
}

/**
 * Where a storage's objects live: the tenant's folder for its default storage, a folder of it for
 * the LOCAL ones it added, a bucket; and what lets go of it (a bucket's client).
 */
function objectStorage(settings: StorageSettings, tenantFolder: string, storageId: string): { objects: ObjectStorage; close: () => void } {
  if (settings.kind === 'LOCAL') {
    return { objects: new FolderStorage(settings.isDefault ? tenantFolder : (settings.path ?? join(tenantFolder, storageId))), close: () => undefined };
  }
  const s3 = s3Storage(settings);
  return { objects: s3, close: () => s3.close() };
}

function s3Storage(settings: S3Settings): S3Storage {
  // Loaded with the first bucket: the S3 client takes about 10 MB of the process, which installations
  // that keep their backups on disk have no use for.
  const { S3Storage } = require('./storage/s3-storage') as typeof import('./storage/s3-storage');
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
function coded(open: () => Promise<OpenStorage>, namer: EncryptedObjectStore, letGo: () => void): SnapshotStore {
  const recode = (error: unknown): unknown => {
    if (!(error instanceof StorageError)) return error;
    const damaged = error.code === 'NOT_FOUND' || error.code === 'CORRUPT';
    if (!damaged) letGo();
    return new BackplaneError(damaged ? 'SNAPSHOT_DAMAGED' : 'STORAGE_UNAVAILABLE', error.message);
  };
  const recoded = async <T>(run: (store: EncryptedObjectStore) => Promise<T>): Promise<T> => {
    const opened = await open();
    try {
      return await opened.use(run);
    } catch (error) {
      throw recode(error);
    }
  };
  return {
    put: (plain) => recoded((store) => store.put(plain)),
    get: (sha256) => recoded((store) => store.get(sha256)),
    has: (sha256) => recoded((store) => store.has(sha256)),
    nameOf: (sha256) => namer.nameOf(sha256),
    async *list() {
      const opened = await open();
      try {
        yield* opened.list();
      } catch (error) {
        throw recode(error);
      }
    },
    removeName: (name) => recoded((store) => store.removeName(name)),
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
