import { createHash, randomBytes } from 'node:crypto';
import type { SqlDatabase } from '../sql/database';
import { migrate, type Migration } from '../sql/migrate';

const migrations: readonly Migration[] = [
  [
    // Digests only, outside the event log: the token itself is shown once and kept nowhere.
    `CREATE TABLE api_token_digests (
       token_id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       digest text NOT NULL UNIQUE)`,
  ],
];

export const TOKEN_PREFIX = 'bpk_';

export function newApiToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class ApiTokenDigests {
  private constructor(private readonly db: SqlDatabase) {}

  static async open(db: SqlDatabase): Promise<ApiTokenDigests> {
    await migrate(db, 'auth', migrations);
    return new ApiTokenDigests(db);
  }

  async keep(tenantId: string, tokenId: string, token: string): Promise<void> {
    await this.db.query('INSERT INTO api_token_digests (token_id, tenant_id, digest) VALUES ($1, $2, $3)', [tokenId, tenantId, tokenDigest(token)]);
  }

  async discard(tokenId: string): Promise<void> {
    await this.db.query('DELETE FROM api_token_digests WHERE token_id = $1', [tokenId]);
  }
}
