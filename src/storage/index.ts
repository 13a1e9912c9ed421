export { chunk, type ChunkSizes } from './chunker';
export { EncryptedObjectStore, type StoredObject } from './encrypted-store';
export { FolderStorage } from './folder-storage';
export { deriveKey } from './keys';
export { type ObjectStorage, StorageError, type StorageFailure } from './object-storage';
export { S3Storage, type S3StorageOptions } from './s3-storage';
