import type { StorageView } from '../../app/backup/storages';
import { StorageKind, type Storage } from './snapshot.type';

/** A storage as the API shows it: its location's fields flat, null where its kind has none; never a secret. */
export function storageOf(view: StorageView): Storage {
  const s3 = view.s3;
  return {
    id: view.id,
    name: view.name,
    kind: StorageKind[view.kind],
    isDefault: view.isDefault,
    addedAt: view.addedAt,
    endpoint: s3?.endpoint ?? null,
    bucket: s3?.bucket ?? null,
    region: s3?.region ?? null,
    prefix: s3?.prefix ?? null,
    forcePathStyle: s3?.forcePathStyle ?? null,
    accessKeyId: s3?.accessKeyId ?? null,
    passwordId: s3?.passwordId ?? null,
  };
}
