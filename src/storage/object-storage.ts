/** Why a storage call failed: the object is absent, the storage cannot be reached, it refuses us, or what it holds is damaged. */
export type StorageFailure = 'NOT_FOUND' | 'UNAVAILABLE' | 'DENIED' | 'CORRUPT';

/**
 * A storage call failed. Its code is the storage's own vocabulary, not the project's ErrorCode:
 * a plan run decides what a missing or damaged object means, and the API never relays it.
 */
export class StorageError extends Error {
  constructor(
    readonly code: StorageFailure,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Where stored objects live: a folder, an S3 bucket. Keys are relative paths of [a-z0-9/._-]. */
export interface ObjectStorage {
  /** Stores the bytes durably under the key (on return they survive a crash); replaces what was there. */
  put(key: string, body: Buffer): Promise<void>;
  /** The bytes under the key; throws StorageError with code 'NOT_FOUND' when there is none. */
  get(key: string): Promise<Buffer>;
  /** The size in bytes, or null when absent. */
  stat(key: string): Promise<{ size: number } | null>;
  /** Every key under the prefix, in no particular order. */
  list(prefix: string): AsyncIterable<{ key: string; size: number }>;
  /** Removes the key; absent is fine. */
  delete(key: string): Promise<void>;
}
