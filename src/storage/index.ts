export { chunk, type ChunkSizes } from './chunker';
export { EncryptedObjectStore, type StoredObject } from './encrypted-store';
export { FolderStorage } from './folder-storage';
export { deriveKey } from './keys';
export { type ObjectStorage, StorageError, type StorageFailure } from './object-storage';
// The S3 client is loaded with the first bucket (backup-places.ts): its class is named here, not loaded.
export type { S3Storage, S3StorageOptions } from './s3-storage';
