import { DEFAULT_STORAGE_ID, type S3Location } from '../../domain/storage';
import { BackplaneError } from '../../errors';
import { passwordSecretId } from '../../queries/catalog';
import { addedStorageById, addedStorages, type StorageView } from '../../queries/storages';
import type { AppDeps } from '../deps';
import type { SnapshotStore } from './snapshot-store';

export { DEFAULT_STORAGE_ID } from '../../domain/storage';
export type { StorageView } from '../../queries/storages';

export const DEFAULT_STORAGE: StorageView = {
  id: DEFAULT_STORAGE_ID,
  name: 'Local storage',
  kind: 'LOCAL',
  isDefault: true,
  local: { path: null },
  s3: null,
  addedAt: null,
};

/** An S3 storage as a client opens it: its location and the secret access key, read from the password manager for this use alone. */
export type S3Settings = Omit<S3Location, 'passwordId'> & { secretAccessKey: string };

/**
 * What opening a storage takes. LOCAL: the default one is the tenant's folder of the data folder,
 * an added one with path null a folder of it named by the storage's id.
 */
export type StorageSettings = { kind: 'LOCAL'; isDefault: boolean; path: string | null } | ({ kind: 'S3' } & S3Settings);

/** Whether a bucket took, returned and forgot a probe object; a refusal says why, in words that never carry the secret. */
export type StorageCheck = { ok: true } | { ok: false; failure: 'DENIED' | 'UNAVAILABLE' | 'DAMAGED'; message: string };

/**
 * Where backups go and what they are made with, as the use cases see it: the storages' contents
 * (encrypted under the tenant's key), the git mirrors, scratch space, and the git work.
 */
export interface BackupPlaces {
  /** The tenant's storage by id, its objects encrypted with the tenant's key; the storage is looked up at its first use. */
  store(tenantId: string, storageId: string): SnapshotStore;
  /** Lets go of what store() keeps open for the storage, so that its next use looks it up again (after a removal). */
  forget(tenantId: string, storageId: string): void;
  /** Puts, reads back and removes a probe object in the bucket, before the storage is trusted with backups. */
  checkS3(settings: S3Settings): Promise<StorageCheck>;
  /** The folder of the tenant's bare mirrors, one per repository. */
  mirrors(tenantId: string): string;
  scratch: string;
  /** Splits a file into content-defined chunks. */
  chunks(file: string): AsyncIterable<Buffer>;
  /** Writes a bundle of every ref of a mirror to the file and answers the refs it holds; null when the mirror has no refs. */
  bundle(mirror: string, file: string): Promise<{ name: string; sha: string }[] | null>;
  /** Removes what interrupted runs and restores left behind, untouched for `olderThanMs`; answers how many entries went. */
  sweepLeftovers(olderThanMs: number): Promise<number>;
}

/** The tenant's storages: the default one first, then those it added, by name. */
export async function storagesOf(deps: Pick<AppDeps, 'db'>, tenantId: string): Promise<StorageView[]> {
  return [DEFAULT_STORAGE, ...(await addedStorages(deps.db, tenantId))];
}

/** One of the tenant's storages, or null. */
export async function storageById(deps: Pick<AppDeps, 'db'>, tenantId: string, id: string): Promise<StorageView | null> {
  if (id === DEFAULT_STORAGE_ID) return DEFAULT_STORAGE;
  return addedStorageById(deps.db, tenantId, id);
}

/**
 * How to open one of the tenant's storages, with an S3 storage's secret from the password manager;
 * null when the tenant has no such storage. A storage whose password entry is gone cannot be opened.
 */
export async function storageSettings(deps: Pick<AppDeps, 'db' | 'vault'>, tenantId: string, storageId: string): Promise<StorageSettings | null> {
  const view = await storageById(deps, tenantId, storageId);
  if (view === null) return null;
  if (view.s3 === null) return { kind: 'LOCAL', isDefault: view.isDefault, path: view.local?.path ?? null };
  const secretId = await passwordSecretId(deps.db, tenantId, view.s3.passwordId);
  if (secretId === null) {
    throw new BackplaneError('STORAGE_UNAVAILABLE', `storage "${view.name}" cannot be opened: its password entry ${view.s3.passwordId} is gone`);
  }
  const { passwordId: _passwordId, ...location } = view.s3;
  return { kind: 'S3', ...location, secretAccessKey: await deps.vault.reveal(tenantId, secretId) };
}
