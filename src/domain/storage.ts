// Storage: where snapshots are kept, a folder or an S3 bucket. Every tenant has a default folder
// storage that no event creates; the others are added and removed here. An S3 storage's secret
// access key never enters an event: the event names the password manager's entry holding it.
import type { Decider } from './decider';
import { DomainError } from './errors';

/** Every tenant's own storage in Backplane's data folder, there from the start so that plans back up out of the box. */
export const DEFAULT_STORAGE_ID = '00000000-0000-4000-8000-000000000001';

export type StorageKind = 'LOCAL' | 'S3';

/** Where an S3 storage lives and how it signs in; the secret access key is the entry passwordId of the password manager. */
export interface S3Location {
  /** An S3-compatible server's URL; null: AWS itself. */
  endpoint: string | null;
  bucket: string;
  region: string;
  /** Where the storage's objects live in the bucket ('' for its root), so one bucket can hold several storages. */
  prefix: string;
  forcePathStyle: boolean;
  accessKeyId: string;
  passwordId: string;
}

/** A folder storage; path null: its own folder in Backplane's data folder, named by its id. */
export interface LocalLocation {
  path: string | null;
}

export interface StorageAddition {
  storageId: string;
  name: string;
  kind: StorageKind;
  s3?: S3Location;
  local?: LocalLocation;
}

export type StorageEvent = { type: 'StorageAdded'; data: StorageAddition } | { type: 'StorageRemoved'; data: { storageId: string; name: string } };

export type StorageCommand =
  | {
      type: 'AddStorage';
      /**
       * known: facts looked up under the tenant lock: another storage of the tenant has the name; the
       * password entry exists; another storage (of any tenant) keeps its objects at the same bucket and prefix.
       */
      data: StorageAddition & { known: { nameTaken: boolean; passwordExists: boolean; locationTaken: boolean } };
    }
  | {
      type: 'RemoveStorage';
      /** known: snapshots kept in the storage now (not expired), and the plans that name it. */
      data: { storageId: string; known: { inUseBySnapshots: number; usedByPlans: string[] } };
    };

export interface StorageState {
  status: 'none' | 'added' | 'removed';
  name: string;
}

export const storage: Decider<StorageState, StorageCommand, StorageEvent> = {
  initialState: () => ({ status: 'none', name: '' }),
  evolve(state, event) {
    switch (event.type) {
      case 'StorageAdded':
        return { status: 'added', name: event.data.name };
      case 'StorageRemoved':
        return { ...state, status: 'removed' };
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'AddStorage': {
        const { known, ...addition } = command.data;
        const { storageId, kind, s3, local } = addition;
        const name = addition.name.trim();
        if (storageId === DEFAULT_STORAGE_ID) throw new DomainError('CONFLICT', 'the default storage is there from the start: it cannot be added');
        if (state.status !== 'none') throw new DomainError('CONFLICT', `storage ${storageId} already exists`);
        if (name === '') throw new DomainError('INVALID_INPUT', 'a storage needs a name', 'name');
        if (known.nameTaken) throw new DomainError('CONFLICT', `a storage named "${name}" already exists`, 'name');
        if (kind === 'S3') {
          if (s3 === undefined || local !== undefined) throw new DomainError('INVALID_INPUT', 'an S3 storage names its bucket, and no folder', 's3');
          if (s3.bucket === '' || s3.region === '' || s3.accessKeyId === '')
            throw new DomainError('INVALID_INPUT', 'an S3 storage needs a bucket, a region and an access key id', 's3');
          if (!known.passwordExists)
            throw new DomainError('NOT_FOUND', `no password ${s3.passwordId}: the secret access key is an entry of the password manager`, 's3.passwordId');
          // Two storages in one place would each take the other's objects for its own, and a prune of one would remove them.
          if (known.locationTaken) {
            throw new DomainError(
              'CONFLICT',
              `another storage keeps its objects in bucket ${s3.bucket} under prefix "${s3.prefix}": give this one a prefix of its own`,
              's3.prefix',
            );
          }
          return [{ type: 'StorageAdded', data: { storageId, name, kind, s3: { ...s3 } } }];
        }
        if (s3 !== undefined) throw new DomainError('INVALID_INPUT', 'a LOCAL storage names no bucket', 's3');
        return [{ type: 'StorageAdded', data: { storageId, name, kind, local: { path: local?.path ?? null } } }];
      }
      case 'RemoveStorage': {
        const { storageId, known } = command.data;
        if (storageId === DEFAULT_STORAGE_ID)
          throw new DomainError('CONFLICT', 'the default storage cannot be removed: it is where plans back up unless they name another');
        if (state.status !== 'added') throw new DomainError('NOT_FOUND', `no storage ${storageId}`);
        if (known.usedByPlans.length > 0) {
          throw new DomainError(
            'CONFLICT',
            `storage "${state.name}" is where plan ${known.usedByPlans.join(', ')} keep${known.usedByPlans.length === 1 ? 's' : ''} snapshots: give ${known.usedByPlans.length === 1 ? 'it' : 'them'} another storage first`,
          );
        }
        if (known.inUseBySnapshots > 0) {
          throw new DomainError(
            'CONFLICT',
            `storage "${state.name}" still keeps ${known.inUseBySnapshots} snapshot${known.inUseBySnapshots === 1 ? '' : 's'}: it can be removed once retention has let them all go`,
          );
        }
        return [{ type: 'StorageRemoved', data: { storageId, name: state.name } }];
      }
    }
  },
};

export const storageStream = (storageId: string) => `storage-${storageId}`;
