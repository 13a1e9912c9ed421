import { DEFAULT_STORAGE_ID, storage, type S3Location, type StorageCommand, type StorageEvent } from '../../src/domain/storage';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(storage);

const location: S3Location = {
  endpoint: 'https://s3.example.test',
  bucket: 'backups',
  region: 'eu-west-1',
  prefix: 'acme',
  forcePathStyle: true,
  accessKeyId: 'AKIAEXAMPLE',
  passwordId: 'p1',
};

type AddData = Extract<StorageCommand, { type: 'AddStorage' }>['data'];
const addS3 = (overrides: Partial<AddData> = {}): StorageCommand => ({
  type: 'AddStorage',
  data: { storageId: 's1', name: 'offsite', kind: 'S3', s3: location, known: { nameTaken: false, passwordExists: true, locationTaken: false }, ...overrides },
});
const addLocal = (overrides: Partial<AddData> = {}): StorageCommand => ({
  type: 'AddStorage',
  data: { storageId: 's2', name: 'second disk', kind: 'LOCAL', known: { nameTaken: false, passwordExists: false, locationTaken: false }, ...overrides },
});
const remove = (storageId = 's1', inUseBySnapshots = 0, usedByPlans: string[] = []): StorageCommand => ({
  type: 'RemoveStorage',
  data: { storageId, known: { inUseBySnapshots, usedByPlans } },
});

const addedS3: StorageEvent = { type: 'StorageAdded', data: { storageId: 's1', name: 'offsite', kind: 'S3', s3: location } };
const removed: StorageEvent = { type: 'StorageRemoved', data: { storageId: 's1', name: 'offsite' } };

describe('storage', () => {
  describe('AddStorage', () => {
    it('adds an S3 storage by its location and the password entry of its secret, and nothing more', () => {
      spec.given([]).when(addS3()).then([addedS3]);
    });

    it('adds a LOCAL storage in its own folder of the data folder (path null)', () => {
      spec
        .given([])
        .when(addLocal())
        .then([{ type: 'StorageAdded', data: { storageId: 's2', name: 'second disk', kind: 'LOCAL', local: { path: null } } }]);
    });

    it('trims the name', () => {
      spec
        .given([])
        .when(addS3({ name: '  offsite ' }))
        .then([addedS3]);
    });

    it.each(['', '   '])('refuses a blank name %j', (name) => {
      spec
        .given([])
        .when(addS3({ name }))
        .thenRefuses('INVALID_INPUT', /needs a name/);
    });

    it('refuses a name another storage of the tenant has', () => {
      spec
        .given([])
        .when(addS3({ known: { nameTaken: true, passwordExists: true, locationTaken: false } }))
        .thenRefuses('CONFLICT', /storage named "offsite" already exists/);
    });

    it.each<[string, StorageEvent[]]>([
      ['added', [addedS3]],
      ['removed', [addedS3, removed]],
    ])('refuses an id already %s', (_status, history) => {
      spec
        .given(history)
        .when(addS3())
        .thenRefuses('CONFLICT', /storage s1 already exists/);
    });

    it('refuses the default storage id', () => {
      spec
        .given([])
        .when(addLocal({ storageId: DEFAULT_STORAGE_ID }))
        .thenRefuses('CONFLICT', /default storage/);
    });

    it('refuses an S3 storage whose password entry does not exist', () => {
      spec
        .given([])
        .when(addS3({ known: { nameTaken: false, passwordExists: false, locationTaken: false } }))
        .thenRefuses('NOT_FOUND', /no password p1/);
    });

    it('refuses an S3 storage where another storage keeps its objects', () => {
      spec
        .given([])
        .when(addS3({ known: { nameTaken: false, passwordExists: true, locationTaken: true } }))
        .thenRefuses('CONFLICT', /another storage keeps its objects in bucket backups under prefix "acme": give this one a prefix of its own/);
    });

    it('refuses an S3 storage without its location, or with a folder too', () => {
      spec
        .given([])
        .when(addS3({ s3: undefined }))
        .thenRefuses('INVALID_INPUT', /names its bucket/);
      spec
        .given([])
        .when(addS3({ local: { path: null } }))
        .thenRefuses('INVALID_INPUT', /names its bucket, and no folder/);
    });

    it.each<keyof S3Location>(['bucket', 'region', 'accessKeyId'])('refuses an S3 storage with an empty %s', (field) => {
      spec
        .given([])
        .when(addS3({ s3: { ...location, [field]: '' } }))
        .thenRefuses('INVALID_INPUT', /needs a bucket, a region and an access key id/);
    });

    it('refuses a LOCAL storage that names a bucket', () => {
      spec
        .given([])
        .when(addLocal({ s3: location }))
        .thenRefuses('INVALID_INPUT', /names no bucket/);
    });
  });

  describe('RemoveStorage', () => {
    it('removes a storage no snapshot is kept in', () => {
      spec.given([addedS3]).when(remove()).then([removed]);
    });

    it('refuses a storage that still keeps snapshots, saying how many', () => {
      spec
        .given([addedS3])
        .when(remove('s1', 3))
        .thenRefuses('CONFLICT', /storage "offsite" still keeps 3 snapshots/);
    });

    it.each<[string[], RegExp]>([
      [['"nightly"'], /storage "offsite" is where plan "nightly" keeps snapshots: give it another storage first/],
      [['"nightly"', '"weekly"'], /plan "nightly", "weekly" keep snapshots: give them another storage/],
    ])('refuses a storage plans name, naming them: %j', (plans, message) => {
      spec
        .given([addedS3])
        .when(remove('s1', 0, plans))
        .thenRefuses('CONFLICT', message);
    });

    it('refuses the default storage', () => {
      spec
        .given([])
        .when(remove(DEFAULT_STORAGE_ID))
        .thenRefuses('CONFLICT', /default storage cannot be removed/);
    });

    it.each<[string, StorageEvent[]]>([
      ['never added', []],
      ['removed already', [addedS3, removed]],
    ])('refuses a storage %s', (_status, history) => {
      spec
        .given(history)
        .when(remove())
        .thenRefuses('NOT_FOUND', /no storage s1/);
    });
  });
});
