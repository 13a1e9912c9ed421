/** Objects by the SHA-256 of their plain content, encrypted where they are kept: what snapshots are made of. */
export interface SnapshotStore {
  /** Stores the bytes once: a second put of the same content writes nothing (isNew false, storedBytes 0). */
  put(plain: Buffer): Promise<{ sha256: string; size: number; storedBytes: number; isNew: boolean }>;
  /** The plain bytes, checked against their hash; throws when missing or altered. */
  get(sha256: string): Promise<Buffer>;
  has(sha256: string): Promise<boolean>;
  /** The name an object is stored under (a keyed hash of its SHA-256): what a prune compares listed names with. */
  nameOf(sha256: string): string;
  /** Every stored object, by name. */
  list(): AsyncIterable<{ name: string; size: number }>;
  removeName(name: string): Promise<void>;
}
