import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeDurably } from './durable-file';
import type { SigningKeyRecord } from './signing-keys';

/**
 * The signing keys' history kept outside the database, beside the key file (and in the digest
 * folder when there is one). The database's table is what the processes agree on; these files are
 * what someone with rights on the database cannot rewrite: a key in the table that no file knows
 * was not made here. A key enters a file only from a process that holds its private half (at start,
 * at a rotation, when a server takes up a rotated key); the first file of a folder takes the
 * table's keys as they are then (an upgrade from before the files), and says so in `seededAt`.
 */
export const KEY_HISTORY_FILE = 'audit-signing-keys.json';

/** A history file that cannot be read: it vouches for no key. */
export class KeyHistoryError extends Error {}

export interface KeyHistoryEntry {
  keyId: string;
  algorithm: string;
  publicKeyPem: string;
  createdAt: string;
  retiredAt: string | null;
}

interface KeyHistoryDocument {
  seededAt?: string;
  keys: KeyHistoryEntry[];
}

/** The files a process keeps the history in: its data folder's, and the digest folder's when set. */
export function keyHistoryFiles(where: { dataDir: string; digestDir?: string | null }): string[] {
  const files = [join(where.dataDir, KEY_HISTORY_FILE)];
  if (where.digestDir) files.push(join(where.digestDir, KEY_HISTORY_FILE));
  return files;
}

/** The keys a file holds; null when there is no file. */
export async function readKeyHistory(file: string): Promise<KeyHistoryEntry[] | null> {
  return (await readDocument(file))?.keys ?? null;
}

async function readDocument(file: string): Promise<KeyHistoryDocument | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let document: Partial<KeyHistoryDocument>;
  try {
    document = JSON.parse(text) as Partial<KeyHistoryDocument>;
  } catch {
    throw new KeyHistoryError(`the signing keys' history ${file} is not JSON: restore it from a copy`);
  }
  return { seededAt: document.seededAt, keys: Array.isArray(document.keys) ? document.keys : [] };
}

function entryOf(record: SigningKeyRecord): KeyHistoryEntry {
  return {
    keyId: record.keyId,
    algorithm: record.algorithm,
    publicKeyPem: record.publicKeyPem,
    createdAt: record.createdAt.toISOString(),
    retiredAt: record.retiredAt?.toISOString() ?? null,
  };
}

/**
 * Records `ownKeyId` (a key this process holds the private half of) from the table, and the
 * retirement of keys the file already knows. Called under the keys lock: one writer per file.
 */
export async function recordKey(files: readonly string[], table: readonly SigningKeyRecord[], ownKeyId: string): Promise<void> {
  const own = table.find((record) => record.keyId === ownKeyId);
  if (!own) return;
  const inTable = new Map(table.map((record) => [record.keyId, record]));
  for (const file of files) {
    const known = await readDocument(file);
    const seeded = known === null;
    const entries = new Map((known?.keys ?? table.map(entryOf)).map((entry) => [entry.keyId, entry]));
    const before = JSON.stringify([...entries.values()]);
    entries.set(own.keyId, entryOf(own));
    for (const entry of entries.values()) {
      // Only a retirement is taken from the table for a key already known: never a new key.
      const retiredAt = inTable.get(entry.keyId)?.retiredAt;
      if (entry.retiredAt === null && retiredAt) entry.retiredAt = retiredAt.toISOString();
    }
    const keys = [...entries.values()].sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.keyId < b.keyId ? -1 : 1));
    if (!seeded && JSON.stringify(keys) === before) continue;
    // Seeded from the table with keys besides this process's own: those were taken on trust.
    const seededAt = seeded ? (table.length > 1 ? new Date().toISOString() : undefined) : known.seededAt;
    const document: KeyHistoryDocument = seededAt === undefined ? { keys } : { seededAt, keys };
    await writeDurably(file, `${JSON.stringify(document, null, 2)}\n`, 0o644);
  }
}

/**
 * The first key of the table that a history file does not hold with the same public key, or a
 * missing file; null when every file knows every key.
 */
export async function keyNotOutside(files: readonly string[], table: readonly SigningKeyRecord[]): Promise<{ keyId: string | null; message: string } | null> {
  for (const file of files) {
    let known: KeyHistoryEntry[] | null;
    try {
      known = await readKeyHistory(file);
    } catch (error) {
      if (error instanceof KeyHistoryError) return { keyId: null, message: error.message };
      throw error;
    }
    if (known === null) {
      if (table.length === 0) continue;
      return { keyId: null, message: `the signing keys' history ${file} is missing: the keys in the database cannot be told from keys added there` };
    }
    const byId = new Map(known.map((entry) => [entry.keyId, entry]));
    for (const record of table) {
      const entry = byId.get(record.keyId);
      if (!entry || entry.publicKeyPem.trim() !== record.publicKeyPem.trim()) {
        return {
          keyId: record.keyId,
          message: `signing key ${record.keyId} is in the database but not in ${file}: no Backplane process here made or took it up, so it was added to the database directly`,
        };
      }
    }
  }
  return null;
}
