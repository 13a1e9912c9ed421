import type { LocalLocation, S3Location, StorageKind } from '../domain/storage';
import type { SqlExecutor } from '../sql/database';
import { asDate, isUuid } from './sql-values';

/** A storage as the API shows it: where it is, and for S3 which password entry holds the secret (never the secret). */
export interface StorageView {
  id: string;
  name: string;
  kind: StorageKind;
  isDefault: boolean;
  local: LocalLocation | null;
  s3: S3Location | null;
  /** null for the default storage, which no one added. */
  addedAt: Date | null;
}

interface StorageRow {
  id: string;
  name: string;
  kind: StorageKind;
  local_path: string | null;
  endpoint: string | null;
  bucket: string | null;
  region: string | null;
  prefix: string | null;
  force_path_style: boolean | null;
  access_key_id: string | null;
  password_id: string | null;
  added_at: unknown;
}

function storageView(row: StorageRow): StorageView {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    isDefault: false,
    local: row.kind === 'LOCAL' ? { path: row.local_path } : null,
    s3:
      row.kind === 'S3'
        ? {
            endpoint: row.endpoint,
            bucket: row.bucket ?? '',
            region: row.region ?? '',
            prefix: row.prefix ?? '',
            forcePathStyle: row.force_path_style ?? false,
            accessKeyId: row.access_key_id ?? '',
            passwordId: row.password_id ?? '',
          }
        : null,
    addedAt: asDate(row.added_at),
  };
}

/** The storages the tenant added and has not removed, by name. */
export async function addedStorages(db: SqlExecutor, tenantId: string): Promise<StorageView[]> {
  const rows = await db.query<StorageRow>('SELECT * FROM storages WHERE tenant_id = $1 AND removed_at IS NULL ORDER BY lower(name), id', [tenantId]);
  return rows.map(storageView);
}

export async function addedStorageById(db: SqlExecutor, tenantId: string, id: string): Promise<StorageView | null> {
  if (!isUuid(id)) return null;
  const rows = await db.query<StorageRow>('SELECT * FROM storages WHERE tenant_id = $1 AND id = $2 AND removed_at IS NULL', [tenantId, id]);
  return rows[0] ? storageView(rows[0]) : null;
}

export async function addedStorageNameTaken(db: SqlExecutor, tenantId: string, name: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM storages WHERE tenant_id = $1 AND lower(name) = lower($2) AND removed_at IS NULL', [tenantId, name.trim()]);
  return rows.length > 0;
}

/** Whether a storage of any tenant keeps its objects at this S3 location: two there would take each other's objects for their own. */
export async function s3LocationTaken(db: SqlExecutor, location: { endpoint: string | null; bucket: string; prefix: string }): Promise<boolean> {
  const rows = await db.query(
    `SELECT 1 FROM storages WHERE kind = 'S3' AND removed_at IS NULL AND coalesce(endpoint, '') = $1 AND bucket = $2 AND prefix = $3 LIMIT 1`,
    [location.endpoint ?? '', location.bucket, location.prefix],
  );
  return rows.length > 0;
}

/** Snapshots the storage keeps now (expired ones are let go): a storage holding any cannot go. */
export async function snapshotsInStorage(db: SqlExecutor, tenantId: string, storageId: string): Promise<number> {
  if (!isUuid(storageId)) return 0;
  const [row] = await db.query<{ total: unknown }>('SELECT count(*) AS total FROM snapshots WHERE tenant_id = $1 AND storage_id = $2 AND expired_at IS NULL', [
    tenantId,
    storageId,
  ]);
  return Number(row.total);
}

/** The plans (not deleted) that keep their snapshots in the storage, quoted by name. */
export async function plansUsingStorage(db: SqlExecutor, tenantId: string, storageId: string): Promise<string[]> {
  if (!isUuid(storageId)) return [];
  const rows = await db.query<{ name: string }>('SELECT name FROM plans WHERE tenant_id = $1 AND storage_id = $2 AND deleted_at IS NULL ORDER BY name, id', [
    tenantId,
    storageId,
  ]);
  return rows.map((row) => JSON.stringify(row.name));
}
