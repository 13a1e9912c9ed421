import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BackplaneError } from '../errors';
import type { SqlDatabase, SqlExecutor } from '../sql/database';
import { migrate, type Migration } from '../sql/migrate';
import { DIGEST_ALGORITHM, keyIdOf, publicKeyPem } from './digest';
import { syncFolder, writeDurably } from './durable-file';

/** The signing key is missing, malformed, or not the one the database signs with: the process is not set up to sign. */
export class AuditKeyError extends BackplaneError {
  constructor(message: string) {
    super('INVALID_CONFIG', message);
  }
}

/** The private key's file in the data folder, when BACKPLANE_AUDIT_SIGNING_KEY is not set. */
export const AUDIT_KEY_FILE = 'audit-signing.key';
/** A rotation's new key until the database has taken it: see rotateAuditKey. */
const NEXT_KEY_FILE = `${AUDIT_KEY_FILE}.next`;

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
  /** Where the key file is kept otherwise. */
  dataDir: string;
}

export interface SigningKey {
  keyId: string;
  privateKey: KeyObject;
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

async function activeKeyId(db: SqlExecutor): Promise<string | null> {
  const [row] = await db.query<{ key_id: string }>('SELECT key_id FROM audit_signing_keys WHERE retired_at IS NULL');
  return row?.key_id ?? null;
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
    return new AuditSigner(db, source, key);
  }

  /**
   * The key to sign with now. A rotation by another process (the CLI) retires the key held here:
   * the key is read again from where it came from, and signing is refused while it differs.
   */
  async current(): Promise<SigningKey> {
    const active = await activeKeyId(this.db);
    if (active === this.key.keyId) return this.key;
    const reloaded = await loadKey(this.db, this.source);
    if (active !== reloaded.keyId) throw conflict(reloaded.keyId, active ?? 'none', this.source);
    this.key = reloaded;
    return reloaded;
  }
}

/** Replaces the active key with a new one (generated, or BACKPLANE_AUDIT_SIGNING_KEY's); the old one is retired, never deleted. */
export async function rotateAuditKey(db: SqlDatabase, source: SigningKeySource): Promise<{ retired: string | null; active: string }> {
  await migrateSigningKeys(db);
  const fromEnv = source.pem !== undefined && source.pem !== '';
  const next = fromEnv ? parsePrivateKey(source.pem!, 'BACKPLANE_AUDIT_SIGNING_KEY') : generateKeyPairSync('ed25519').privateKey;
  const keyId = keyIdOf(next);
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
    await tx.query('UPDATE audit_signing_keys SET retired_at = now() WHERE retired_at IS NULL');
    await tx.query('INSERT INTO audit_signing_keys (key_id, algorithm, public_key_pem) VALUES ($1, $2, $3)', [keyId, DIGEST_ALGORITHM, publicKeyPem(next)]);
  });
  if (!fromEnv) {
    await rename(nextFile, join(source.dataDir, AUDIT_KEY_FILE));
    await syncFolder(source.dataDir);
  }
  return { retired: retiredId, active: keyId };
}

/** The configured key, else the key file's, made on first start with mode 0600. */
async function loadKey(db: SqlExecutor, source: SigningKeySource): Promise<SigningKey> {
  if (source.pem !== undefined && source.pem !== '') {
    const privateKey = parsePrivateKey(source.pem, 'BACKPLANE_AUDIT_SIGNING_KEY');
    return { keyId: keyIdOf(privateKey), privateKey };
  }
  const file = join(source.dataDir, AUDIT_KEY_FILE);
  await finishRotation(db, source.dataDir);
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
    await rename(nextFile, join(dataDir, AUDIT_KEY_FILE));
    await syncFolder(dataDir);
  } else {
    await unlink(nextFile);
  }
}

function parsePrivateKey(pem: string, where: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new AuditKeyError(`${where} must hold an Ed25519 private key in PEM (e.g. from \`openssl genpkey -algorithm ed25519\`)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new AuditKeyError(`${where} holds a ${key.asymmetricKeyType} key; audit digests are signed with Ed25519`);
  return key;
}

function pemOf(key: KeyObject): string {
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
