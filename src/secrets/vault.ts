import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { SqlStatement } from '../core/projection';
import { BackplaneError } from '../errors';
import type { SqlDatabase, SqlExecutor } from '../sql/database';
import { migrate, type Migration } from '../sql/migrate';
import { MasterKeyError } from './master-key';

const migrations: readonly Migration[] = [
  [
    // One row per version of a secret; the event log names rows by id and never holds their content.
    `CREATE TABLE password_secrets (
       secret_id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       iv bytea NOT NULL,
       ciphertext bytea NOT NULL,
       auth_tag bytea NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now())`,
    // An HMAC of a constant under the master key: a wrong key is refused at start, not at first use.
    'CREATE TABLE secret_key_check (id smallint PRIMARY KEY CHECK (id = 1), check_value text NOT NULL)',
  ],
];

export class SecretUnavailableError extends BackplaneError {
  constructor(secretId: string) {
    super('SECRET_UNAVAILABLE', `secret ${secretId} is not in the vault (deleted, or of another tenant)`);
  }
}

/**
 * The password manager's secrets, encrypted with AES-256-GCM under the master key, in their own
 * table outside the event log. Destroying a row is crypto-shredding: the history keeps its events,
 * and nothing can bring the secret back.
 */
export class SecretVault {
  private constructor(
    private readonly db: SqlDatabase,
    private readonly key: Buffer,
  ) {}

  static async open(db: SqlDatabase, key: Buffer): Promise<SecretVault> {
    await migrate(db, 'secrets', migrations);
    const check = createHmac('sha256', key).update('backplane master key check').digest('hex');
    await db.query('INSERT INTO secret_key_check (id, check_value) VALUES (1, $1) ON CONFLICT (id) DO NOTHING', [check]);
    const [row] = await db.query<{ check_value: string }>('SELECT check_value FROM secret_key_check WHERE id = 1');
    if (row.check_value !== check) {
      throw new MasterKeyError(
        'the master key is not the one the stored passwords were encrypted with: set BACKPLANE_MASTER_KEY (or the key file) back to that key',
      );
    }
    return new SecretVault(db, key);
  }

  /** Encrypts and keeps a secret; returns the id that events may carry. */
  async put(tenantId: string, secret: string): Promise<string> {
    const secretId = randomUUID();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(aad(tenantId, secretId));
    const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    await this.db.query('INSERT INTO password_secrets (secret_id, tenant_id, iv, ciphertext, auth_tag) VALUES ($1, $2, $3, $4, $5)', [
      secretId,
      tenantId,
      iv,
      ciphertext,
      cipher.getAuthTag(),
    ]);
    return secretId;
  }

  async reveal(tenantId: string, secretId: string): Promise<string> {
    const [row] = await this.db.query<{ iv: Uint8Array; ciphertext: Uint8Array; auth_tag: Uint8Array }>(
      'SELECT iv, ciphertext, auth_tag FROM password_secrets WHERE secret_id = $1 AND tenant_id = $2',
      [secretId, tenantId],
    );
    if (!row) throw new SecretUnavailableError(secretId);
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(row.iv));
    decipher.setAAD(aad(tenantId, secretId));
    decipher.setAuthTag(Buffer.from(row.auth_tag));
    return Buffer.concat([decipher.update(Buffer.from(row.ciphertext)), decipher.final()]).toString('utf8');
  }

  /** For a secret whose event was never written. */
  async discard(secretId: string): Promise<void> {
    await shredSecret(this.db, secretId);
  }
}

/** Bound to its tenant and id: a row copied elsewhere does not decrypt. */
function aad(tenantId: string, secretId: string): Buffer {
  return Buffer.from(`${tenantId}\u0000${secretId}`, 'utf8');
}

/** Destroys an encrypted copy; as a statement, so that a projection can run it in its own transaction. */
export function shredStatement(secretId: string): SqlStatement {
  return { sql: 'DELETE FROM password_secrets WHERE secret_id = $1', params: [secretId] };
}

async function shredSecret(db: SqlExecutor, secretId: string): Promise<void> {
  const { sql, params } = shredStatement(secretId);
  await db.query(sql, params);
}
