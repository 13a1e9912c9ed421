import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_STORAGE_ID, type BackupPlaces } from './app/backup/storages';
import type { SnapshotStore } from './app/backup/snapshot-store';
import { BackplaneError } from './errors';
import { bundleTo } from './git';
import { chunk, deriveKey, EncryptedObjectStore, FolderStorage, StorageError } from './storage';

/**
 * Backups in the data folder: each tenant's default storage (encrypted under a key derived from
 * the master key for that tenant alone), its git mirrors, and scratch space.
 */
export function backupPlaces(dataDir: string, masterKey: Buffer): BackupPlaces {
  const root = join(dataDir, 'backups');
  const stores = new Map<string, SnapshotStore>();
  return {
    store(tenantId, storageId) {
      if (storageId !== DEFAULT_STORAGE_ID) throw new BackplaneError('NOT_FOUND', `no storage ${storageId}`);
      let store = stores.get(tenantId);
      if (store === undefined) {
        store = coded(new EncryptedObjectStore(new FolderStorage(join(root, 'storage', folderOf(tenantId))), deriveKey(masterKey, `storage:${tenantId}`)));
        stores.set(tenantId, store);
      }
      return store;
    },
    mirrors: (tenantId) => join(root, 'mirrors', folderOf(tenantId)),
    scratch: join(root, 'scratch'),
    chunks: (file) => chunk(createReadStream(file)),
    bundle: async (mirror, file) => (await bundleTo(mirror, file)) !== null,
  };
}

/** A store whose failures carry Backplane's codes: an object missing or altered, or a storage out of reach. */
function coded(store: EncryptedObjectStore): SnapshotStore {
  const recoded = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof StorageError)) throw error;
      const damaged = error.code === 'NOT_FOUND' || error.code === 'CORRUPT';
      throw new BackplaneError(damaged ? 'SNAPSHOT_DAMAGED' : 'STORAGE_UNAVAILABLE', error.message);
    }
  };
  return {
    put: (plain) => recoded(() => store.put(plain)),
    get: (sha256) => recoded(() => store.get(sha256)),
    has: (sha256) => recoded(() => store.has(sha256)),
    nameOf: (sha256) => store.nameOf(sha256),
    list: () => store.list(),
    removeName: (name) => recoded(() => store.removeName(name)),
  };
}

/** A tenant's folder name: its id when that is a plain name, else a hash of it. */
function folderOf(tenantId: string): string {
  return /^[A-Za-z0-9-]{1,64}$/.test(tenantId) ? tenantId : createHash('sha256').update(tenantId).digest('hex').slice(0, 32);
}
