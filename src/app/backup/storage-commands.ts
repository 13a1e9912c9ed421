import { randomUUID } from 'node:crypto';
import { echoed } from '../../core/echo';
import { DomainError } from '../../core/errors';
import { storage, storageStream, type S3Location, type StorageCommand } from '../../domain/storage';
import { passwordSecretId } from '../../queries/catalog';
import { addedStorageNameTaken, plansUsingStorage, s3LocationTaken, snapshotsInStorage } from '../../queries/storages';
import type { AppDeps, Request } from '../deps';
import { found } from '../found';
import { executeLocked } from '../locked-command';
import { DEFAULT_STORAGE, storageById, type StorageView } from './storages';

export interface AddStorageInput {
  name: string;
  kind: 'LOCAL' | 'S3';
  s3?: Omit<S3Location, 'endpoint' | 'prefix' | 'forcePathStyle'> & { endpoint?: string | null; prefix?: string; forcePathStyle?: boolean };
}

/**
 * Adds a storage. An S3 storage is first proven with its secret from the password manager: the
 * bucket must take, return and forget a probe object, or nothing is written. A LOCAL storage is
 * a folder of its own in Backplane's data folder: the API names no path, so that no tenant's
 * administrator can make the server write where they choose.
 */
export async function addStorage(deps: AppDeps, request: Request, input: AddStorageInput): Promise<StorageView> {
  const { tenantId } = request.principal;
  const storageId = randomUUID();
  const name = input.name.trim();
  const s3 = input.s3 && {
    endpoint: normalEndpoint(input.s3.endpoint ?? null),
    bucket: input.s3.bucket,
    region: input.s3.region,
    prefix: (input.s3.prefix ?? '').replace(/^\/+|\/+$/g, ''),
    forcePathStyle: input.s3.forcePathStyle ?? false,
    accessKeyId: input.s3.accessKeyId,
    passwordId: input.s3.passwordId,
  };
  if (input.kind === 'S3' && s3 !== undefined) await proveBucket(deps, tenantId, s3);
  await executeLocked(
    deps,
    request,
    storage,
    storageStream(storageId),
    async (): Promise<StorageCommand> => ({
      type: 'AddStorage',
      data: {
        storageId,
        name,
        kind: input.kind,
        s3,
        known: {
          nameTaken: name.toLowerCase() === DEFAULT_STORAGE.name.toLowerCase() || (await addedStorageNameTaken(deps.db, tenantId, name)),
          passwordExists: s3 !== undefined && (await passwordSecretId(deps.db, tenantId, s3.passwordId)) !== null,
          locationTaken: s3 !== undefined && (await s3LocationTaken(deps.db, s3)),
        },
      },
    }),
  );
  return found(await storageById(deps, tenantId, storageId), 'storage', storageId);
}

/** Removes a storage that keeps no live snapshot and that no plan names; the default one stays. */
export async function removeStorage(deps: AppDeps, request: Request, id: string): Promise<string> {
  const { tenantId } = request.principal;
  found(await storageById(deps, tenantId, id), 'storage', id);
  await executeLocked(
    deps,
    request,
    storage,
    storageStream(id),
    async (): Promise<StorageCommand> => ({
      type: 'RemoveStorage',
      data: {
        storageId: id,
        known: { inUseBySnapshots: await snapshotsInStorage(deps.db, tenantId, id), usedByPlans: await plansUsingStorage(deps.db, tenantId, id) },
      },
    }),
  );
  deps.backup.forget(tenantId, id);
  return id;
}

async function proveBucket(deps: AppDeps, tenantId: string, s3: S3Location): Promise<void> {
  const secretId = await passwordSecretId(deps.db, tenantId, s3.passwordId);
  if (secretId === null)
    throw new DomainError('NOT_FOUND', `no password ${echoed(s3.passwordId)}: the secret access key is an entry of the password manager`, 's3.passwordId');
  const { passwordId: _passwordId, ...location } = s3;
  const check = await deps.backup.checkS3({ ...location, secretAccessKey: await deps.vault.reveal(tenantId, secretId) });
  if (check.ok) return;
  const why =
    check.failure === 'DENIED'
      ? 'the bucket refused the access key id with the secret access key of the password entry'
      : check.failure === 'UNAVAILABLE'
        ? 'the bucket cannot be reached, or does not exist'
        : 'the bucket did not return what was stored';
  throw new DomainError('INVALID_INPUT', `the S3 storage was not added: ${why} (${check.message})`, 's3');
}

/** One spelling per endpoint (host in lowercase, no trailing '/'), so that one place is recognised as taken however it is written. */
function normalEndpoint(endpoint: string | null): string | null {
  if (endpoint === null) return null;
  try {
    const url = new URL(endpoint);
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    return endpoint;
  }
}
