import { hkdfSync } from 'node:crypto';

/**
 * A 32-byte key for one purpose (e.g. `storage:<tenant>`), derived from the master key with
 * HKDF-SHA256: keys of different purposes tell nothing of each other nor of the master key.
 */
export function deriveKey(masterKey: Buffer, purpose: string): Buffer {
  if (masterKey.length < 32) throw new Error('a master key holds at least 32 bytes');
  if (purpose === '') throw new Error('a derived key needs a purpose');
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), Buffer.from(`backplane:${purpose}`, 'utf8'), 32));
}
