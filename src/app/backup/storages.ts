import type { AppDeps } from '../deps';
import type { SnapshotStore } from './snapshot-store';

/** Every tenant's own storage in Backplane's data folder, there from the start so that plans back up out of the box. */
export const DEFAULT_STORAGE_ID = '00000000-0000-4000-8000-000000000001';

export interface StorageView {
  id: string;
  name: string;
  kind: 'LOCAL' | 'S3';
  isDefault: boolean;
}

export const DEFAULT_STORAGE: StorageView = { id: DEFAULT_STORAGE_ID, name: 'Local storage', kind: 'LOCAL', isDefault: true };

/**
 * Where backups go and what they are made with, as the use cases see it: the storages' contents
 * (encrypted under the tenant's key), the git mirrors, scratch space, and the git work.
 */
export interface BackupPlaces {
  /** The tenant's storage by id, its objects encrypted with the tenant's key. */
  store(tenantId: string, storageId: string): SnapshotStore;
  /** The folder of the tenant's bare mirrors, one per repository. */
  mirrors(tenantId: string): string;
  scratch: string;
  /** Splits a file into content-defined chunks. */
  chunks(file: string): AsyncIterable<Buffer>;
  /** Writes a bundle of every ref of a mirror to the file; false when the mirror has no refs. */
  bundle(mirror: string, file: string): Promise<boolean>;
}

/** The tenant's storages: the default one for now. */
export function storagesOf(_tenantId: string): StorageView[] {
  return [DEFAULT_STORAGE];
}

/** One of the tenant's storages, or null. */
export async function storageById(_deps: AppDeps, tenantId: string, id: string): Promise<StorageView | null> {
  return storagesOf(tenantId).find((storage) => storage.id === id) ?? null;
}
