import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import type { SqlDatabase, SqlExecutor } from '../sql/database';
import { DIGEST_ALGORITHM, keyIdOf, publicKeyPem } from './digest';
import { writeDurably } from './durable-file';
import { keyHistoryFiles, recordKey } from './key-history';
import {
  activeKeyId,
  AuditKeyError,
  DIGEST_WRITERS_LOCK,
  KEYS_LOCK,
  KEYS_LOCK_TIMEOUT_MS,
  migrateSigningKeys,
  NEXT_KEY_FILE,
  parsePrivateKey,
  pemOf,
  type SigningKeySource,
  signingKeys,
  takeKeyFileName,
} from './signing-keys';

/**
 * Replaces the active key with a new one (generated, or BACKPLANE_AUDIT_SIGNING_KEY's); the old one
 * is retired, never deleted. It waits for the writer of digests and holds the keys lock from the
 * new key's file to its rename, so that no process signs with the old key meanwhile nor takes the
 * half-done rotation for a failed one.
 */
export async function rotateAuditKey(db: SqlDatabase, source: SigningKeySource): Promise<{ retired: string | null; active: string }> {
  await migrateSigningKeys(db);
  const fromEnv = source.pem !== undefined && source.pem !== '';
  const next = fromEnv ? parsePrivateKey(source.pem!, 'BACKPLANE_AUDIT_SIGNING_KEY') : generateKeyPairSync('ed25519').privateKey;
  const keyId = keyIdOf(next);
  const locked = { timeoutMs: KEYS_LOCK_TIMEOUT_MS };
  return db.withLock(DIGEST_WRITERS_LOCK, () => db.withLock(KEYS_LOCK, () => rotateLocked(db, source, next, keyId, fromEnv), locked), locked);
}

async function rotateLocked(
  db: SqlDatabase,
  source: SigningKeySource,
  next: KeyObject,
  keyId: string,
  fromEnv: boolean,
): Promise<{ retired: string | null; active: string }> {
  const nextFile = join(source.dataDir, NEXT_KEY_FILE);
  // The new key is on disk before the database names it, and takes the key file's name after:
  // a crash in between is finished at the next start (see loadKey).
  if (!fromEnv) await writeDurably(nextFile, pemOf(next), 0o600);
  let retiredId: string | null = null;
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['backplane-audit-keys']);
    retiredId = await activeKeyId(tx);
    if (retiredId === keyId) {
      throw new AuditKeyError(
        `key ${keyId} is already the active audit signing key: set BACKPLANE_AUDIT_SIGNING_KEY to the new key, or unset it to have one made`,
      );
    }
    const [known] = await tx.query('SELECT 1 FROM audit_signing_keys WHERE key_id = $1', [keyId]);
    if (known) throw new AuditKeyError(`key ${keyId} was used before and is retired: a retired key does not sign again`);
    const at = await handOverTime(tx, retiredId);
    await tx.query('UPDATE audit_signing_keys SET retired_at = $1 WHERE retired_at IS NULL', [at]);
    await tx.query('INSERT INTO audit_signing_keys (key_id, algorithm, public_key_pem, created_at) VALUES ($1, $2, $3, $4)', [
      keyId,
      DIGEST_ALGORITHM,
      publicKeyPem(next),
      at,
    ]);
  });
  if (!fromEnv) await takeKeyFileName(nextFile, source.dataDir, keyId);
  await recordKey(keyHistoryFiles(source), await signingKeys(db), keyId);
  return { retired: retiredId, active: keyId };
}

/**
 * When the old key stops and the new one starts: now, or the end of the last period the old key
 * signed if that is later (a digest's periodEnd is the signing process's clock, which may run
 * ahead of the database's), so that every digest falls inside its key's window.
 */
async function handOverTime(tx: SqlExecutor, retiring: string | null): Promise<Date> {
  const [table] = await tx.query<{ present: boolean }>("SELECT to_regclass('audit_digests') IS NOT NULL AS present");
  const [row] =
    retiring !== null && table?.present
      ? await tx.query<{ at: Date | string }>('SELECT GREATEST(now(), (SELECT max(period_end) FROM audit_digests WHERE key_id = $1)) AS at', [retiring])
      : await tx.query<{ at: Date | string }>('SELECT now() AS at');
  return new Date(row.at);
}
