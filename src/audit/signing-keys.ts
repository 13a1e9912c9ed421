import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BackplaneError } from '../errors';
import type { SqlDatabase, SqlExecutor } from '../sql/database';
import { migrate, type Migration } from '../sql/migrate';
import { DIGEST_ALGORITHM, keyIdOf, publicKeyPem } from './digest';
import { syncFolder } from './durable-file';
import { keyHistoryFiles, recordKey } from './key-history';

/** The signing key is missing, malformed, or not the one the database signs with: the process is not set up to sign. */
export class AuditKeyError extends BackplaneError {
  constructor(message: string) {
    super('INVALID_CONFIG', message);
  }
}

/** The private key's file in the data folder, when BACKPLANE_AUDIT_SIGNING_KEY is not set. */
export const AUDIT_KEY_FILE = 'audit-signing.key';
/** A rotation's new key until the database has taken it: see key-rotation.ts. */
export const NEXT_KEY_FILE = `${AUDIT_KEY_FILE}.next`;

/**
 * Held (withLock) by whoever changes the key files: a rotation from writing the new key to renaming
 * it, a process finishing a rotation at start, a process recording a key in the history files.
 * Without it a server starting mid-rotation takes the new key file for a failed one and deletes it.
 */
export const KEYS_LOCK = 'backplane-audit-keys';
/** Held by the writer of digests while it signs: a rotation waits for it, so no digest is signed with a key being retired. */
export const DIGEST_WRITERS_LOCK = 'audit-digests';
export const KEYS_LOCK_TIMEOUT_MS = 60_000;

const migrations: readonly Migration[] = [
  [
    // Public keys only, never deleted: a retired key still verifies the digests it signed. The
    // private key stays with the processes (environment or key file); this table is how every
    // process on one database agrees on which key signs now.
    `CREATE TABLE audit_signing_keys (
       key_id text PRIMARY KEY,
       algorithm text NOT NULL,
       public_key_pem text NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       retired_at timestamptz)`,
    'CREATE UNIQUE INDEX audit_signing_keys_one_active ON audit_signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL',
  ],
];

export interface SigningKeySource {
  /** BACKPLANE_AUDIT_SIGNING_KEY: an Ed25519 private key in PEM. */
  pem?: string;
  /** Where the key file is kept otherwise, and the keys' history (key-history.ts) in any case. */
  dataDir: string;
  /** BACKPLANE_AUDIT_DIGEST_DIR: a second copy of the keys' history. */
  digestDir?: string | null;
}

export interface SigningKey {
  keyId: string;
  privateKey: KeyObject;
}

/** The key that signs now, with when the database took it: no digest it signs may end before. */
export interface ActiveSigningKey extends SigningKey {
  createdAt: Date;
}

export interface SigningKeyRecord {
  keyId: string;
  algorithm: string;
  publicKeyPem: string;
  createdAt: Date;
  retiredAt: Date | null;
}

export async function migrateSigningKeys(db: SqlDatabase): Promise<void> {
  await migrate(db, 'audit-signing-keys', migrations);
}

/** Every key that ever signed, oldest first. */
export async function signingKeys(db: SqlExecutor): Promise<SigningKeyRecord[]> {
  const rows = await db.query<{ key_id: string; algorithm: string; public_key_pem: string; created_at: Date | string; retired_at: Date | string | null }>(
    'SELECT key_id, algorithm, public_key_pem, created_at, retired_at FROM audit_signing_keys ORDER BY created_at, key_id',
  );
  return rows.map((row) => ({
    keyId: row.key_id,
    algorithm: row.algorithm,
    publicKeyPem: row.public_key_pem,
    createdAt: new Date(row.created_at),
    retiredAt: row.retired_at === null ? null : new Date(row.retired_at),
  }));
}

async function activeKey(db: SqlExecutor): Promise<{ keyId: string; createdAt: Date } | null> {
  const [row] = await db.query<{ key_id: string; created_at: Date | string }>('SELECT key_id, created_at FROM audit_signing_keys WHERE retired_at IS NULL');
  return row ? { keyId: row.key_id, createdAt: new Date(row.created_at) } : null;
}

export async function activeKeyId(db: SqlExecutor): Promise<string | null> {
  return (await activeKey(db))?.keyId ?? null;
}

/** Puts a key this process holds into the history files outside the database. */
async function recordOutside(db: SqlDatabase, source: SigningKeySource, keyId: string): Promise<void> {
  await db.withLock(KEYS_LOCK, async () => recordKey(keyHistoryFiles(source), await signingKeys(db), keyId), { timeoutMs: KEYS_LOCK_TIMEOUT_MS });
}

/**
 * The key digests are signed with. Every process on one database must sign with the same key:
 * the database records each key's public half, and a process whose key is not the active one is
 * refused at start, rather than signing a chain that others sign with another key.
 */
export class AuditSigner {
  private constructor(
    private readonly db: SqlDatabase,
    private readonly source: SigningKeySource,
    private key: SigningKey,
  ) {}

  static async open(db: SqlDatabase, source: SigningKeySource): Promise<AuditSigner> {
    await migrateSigningKeys(db);
    const key = await loadKey(db, source);
    await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['backplane-audit-keys']);
      const active = await activeKeyId(tx);
      if (active === key.keyId) return;
      if (active !== null) throw conflict(key.keyId, active, source);
      const [known] = await tx.query<{ retired_at: Date | null }>('SELECT retired_at FROM audit_signing_keys WHERE key_id = $1', [key.keyId]);
      if (known) throw retired(key.keyId, source);
      await tx.query('INSERT INTO audit_signing_keys (key_id, algorithm, public_key_pem) VALUES ($1, $2, $3)', [
        key.keyId,
        DIGEST_ALGORITHM,
        publicKeyPem(key.privateKey),
      ]);
    });
    await recordOutside(db, source, key.keyId);
    return new AuditSigner(db, source, key);
  }

  /**
   * The key to sign with now. A rotation by another process (the CLI) retires the key held here:
   * the key is read again from where it came from, and signing is refused while it differs.
   */
  async current(): Promise<ActiveSigningKey> {
    const active = await activeKey(this.db);
    if (active?.keyId === this.key.keyId) return { ...this.key, createdAt: active.createdAt };
    const reloaded = await loadKey(this.db, this.source);
    if (active?.keyId !== reloaded.keyId) throw conflict(reloaded.keyId, active?.keyId ?? 'none', this.source);
    await recordOutside(this.db, this.source, reloaded.keyId);
    this.key = reloaded;
    return { ...reloaded, createdAt: active.createdAt };
  }
}

/**
 * The new key takes the key file's name. A process that finished the rotation first (an older
 * one that does not take the lock) has renamed it already: that is success when the key file
 * holds the new key.
 */
export async function takeKeyFileName(nextFile: string, dataDir: string, keyId: string): Promise<void> {
  const file = join(dataDir, AUDIT_KEY_FILE);
  try {
    await rename(nextFile, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    let there: string | null = null;
    try {
      there = keyIdOf(createPrivateKey(await readFile(file, 'utf8')));
    } catch {
      // Unreadable or gone: the rotation's key is lost, said below.
    }
    if (there !== keyId) throw new AuditKeyError(`the new audit signing key ${keyId} was taken from ${dataDir} before it became ${file}`);
  }
  await syncFolder(dataDir);
}

/** The configured key, else the key file's, made on first start with mode 0600. */
async function loadKey(db: SqlDatabase, source: SigningKeySource): Promise<SigningKey> {
  if (source.pem !== undefined && source.pem !== '') {
    const privateKey = parsePrivateKey(source.pem, 'BACKPLANE_AUDIT_SIGNING_KEY');
    return { keyId: keyIdOf(privateKey), privateKey };
  }
  const file = join(source.dataDir, AUDIT_KEY_FILE);
  await db.withLock(KEYS_LOCK, () => finishRotation(db, source.dataDir), { timeoutMs: KEYS_LOCK_TIMEOUT_MS });
  if (!(await exists(file))) {
    // Another process on this database made the key: a new one here could only be refused.
    const active = await activeKeyId(db);
    if (active !== null) {
      throw new AuditKeyError(
        `the database's audit digests are signed with key ${active}, which is not in ${file}: copy the key file of the process that made it there (mode 0600), or set BACKPLANE_AUDIT_SIGNING_KEY to it`,
      );
    }
    try {
      // Of two processes starting at once on one folder, one makes the key and the other reads it.
      await makeKeyFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  if (((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
  const privateKey = parsePrivateKey(await readFile(file, 'utf8'), file);
  return { keyId: keyIdOf(privateKey), privateKey };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/**
 * Writes the new key whole under another name, then links it to the key file's name, which fails
 * when the name is taken: a process starting beside this one reads either no file or all of it.
 */
async function makeKeyFile(file: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(pemOf(generateKeyPairSync('ed25519').privateKey), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, file);
    await syncFolder(dirname(file));
  } finally {
    await unlink(temporary);
  }
}

/** A rotation that stopped between the database and the file: the new key takes the file's name if the database took it, else it is dropped. */
async function finishRotation(db: SqlExecutor, dataDir: string): Promise<void> {
  const nextFile = join(dataDir, NEXT_KEY_FILE);
  let text: string;
  try {
    text = await readFile(nextFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  let nextId: string | null = null;
  try {
    nextId = keyIdOf(createPrivateKey(text));
  } catch {
    // A file cut short by a crash before its sync: the rotation never reached the database.
  }
  if (nextId !== null && nextId === (await activeKeyId(db))) {
    await takeKeyFileName(nextFile, dataDir, nextId);
  } else {
    await unlink(nextFile);
  }
}

export function parsePrivateKey(pem: string, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new AuditKeyError(`${where} must hold an Ed25519 private key in PEM (e.g. from \`openssl genpkey -algorithm ed25519\`)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new AuditKeyError(`${where} holds a ${key.asymmetricKeyType} key; audit digests are signed with Ed25519`);
  return key;
}

export function pemOf(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

function describe(source: SigningKeySource): string {
  return source.pem ? 'BACKPLANE_AUDIT_SIGNING_KEY' : join(source.dataDir, AUDIT_KEY_FILE);
}

function conflict(ours: string, active: string, source: SigningKeySource): AuditKeyError {
  return new AuditKeyError(
    `the audit signing key ${ours} (${describe(source)}) is not the database's active key ${active}: every process on one database signs with the same key; give this one that key (BACKPLANE_AUDIT_SIGNING_KEY, or the key file of the process that made it), or make a new one for all with \`backplane rotate-audit-key\``,
  );
}

function retired(ours: string, source: SigningKeySource): AuditKeyError {
  return new AuditKeyError(
    `the audit signing key ${ours} (${describe(source)}) was retired: a retired key does not sign again; give this process the active key`,
  );
}
