import { createHash, randomBytes } from 'node:crypto';
import type { Role } from '../domain/tenant';
import type { SqlDatabase } from '../sql/database';
import { migrate, type Migration } from '../sql/migrate';

const migrations: readonly Migration[] = [
  [
    // An SSO sign-in under way, outside the event log: the state travels through the browser and
    // is kept here only as a digest; the PKCE verifier is a vault secret, named by id. Any process
    // on the database can answer GitLab's callback, and used_at lets exactly one of them.
    `CREATE TABLE oauth_authorizations (
       state_digest text PRIMARY KEY,
       tenant_id text NOT NULL,
       organization_id uuid NOT NULL,
       verifier_secret_id uuid NOT NULL,
       principal_token_id text NOT NULL,
       principal_name text NOT NULL,
       principal_role text NOT NULL,
       created_at timestamptz NOT NULL,
       used_at timestamptz)`,
    'CREATE INDEX oauth_authorizations_organization ON oauth_authorizations (organization_id)',
  ],
];

/** Who asked for the sign-in: the callback acts as them, so that the history says who authorized. */
export interface AuthorizationPrincipal {
  tokenId: string;
  name: string;
  role: Role;
}

export interface ClaimedAuthorization {
  tenantId: string;
  organizationId: string;
  verifierSecretId: string;
  principal: AuthorizationPrincipal;
}

const digestOf = (state: string) => createHash('sha256').update(state, 'utf8').digest('hex');

export class OAuthAuthorizations {
  private constructor(private readonly db: SqlDatabase) {}

  static async open(db: SqlDatabase): Promise<OAuthAuthorizations> {
    await migrate(db, 'oauth', migrations);
    return new OAuthAuthorizations(db);
  }

  /** Records a sign-in about to start; returns its state, which only the browser carries from here. */
  async begin(
    entry: { tenantId: string; organizationId: string; verifierSecretId: string; principal: AuthorizationPrincipal },
    now = new Date(),
  ): Promise<string> {
    const state = randomBytes(32).toString('base64url');
    await this.db.query(
      `INSERT INTO oauth_authorizations (state_digest, tenant_id, organization_id, verifier_secret_id, principal_token_id, principal_name, principal_role, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [digestOf(state), entry.tenantId, entry.organizationId, entry.verifierSecretId, entry.principal.tokenId, entry.principal.name, entry.principal.role, now],
    );
    return state;
  }

  /**
   * Takes the sign-in the state names, once: one UPDATE decides between concurrent callbacks in
   * any process. Null for a state unknown, used, or issued before `issuedAfter`.
   */
  async claim(state: string, issuedAfter: Date, now = new Date()): Promise<ClaimedAuthorization | null> {
    const [row] = await this.db.query<{
      tenant_id: string;
      organization_id: string;
      verifier_secret_id: string;
      principal_token_id: string;
      principal_name: string;
      principal_role: Role;
    }>(
      `UPDATE oauth_authorizations SET used_at = $2
       WHERE state_digest = $1 AND used_at IS NULL AND created_at > $3
       RETURNING tenant_id, organization_id, verifier_secret_id, principal_token_id, principal_name, principal_role`,
      [digestOf(state), now, issuedAfter],
    );
    if (!row) return null;
    return {
      tenantId: row.tenant_id,
      organizationId: row.organization_id,
      verifierSecretId: row.verifier_secret_id,
      principal: { tokenId: row.principal_token_id, name: row.principal_name, role: row.principal_role },
    };
  }

  /**
   * Forgets the sign-ins issued before `issuedBefore`, used or not: none of them can be claimed
   * any more, and a replayed state reads as unknown. Returns the verifiers' secret ids of those
   * never used, for the vault to destroy.
   */
  async expire(issuedBefore: Date): Promise<string[]> {
    const rows = await this.db.query<{ verifier_secret_id: string; used_at: unknown }>(
      'DELETE FROM oauth_authorizations WHERE created_at < $1 RETURNING verifier_secret_id, used_at',
      [issuedBefore],
    );
    return rows.filter((row) => row.used_at === null).map((row) => row.verifier_secret_id);
  }

  /** Ends the organization's sign-ins not yet used (a new one replaces them); returns their verifiers' secret ids. */
  async withdraw(tenantId: string, organizationId: string, now = new Date()): Promise<string[]> {
    const rows = await this.db.query<{ verifier_secret_id: string }>(
      'UPDATE oauth_authorizations SET used_at = $3 WHERE tenant_id = $1 AND organization_id = $2 AND used_at IS NULL RETURNING verifier_secret_id',
      [tenantId, organizationId, now],
    );
    return rows.map((row) => row.verifier_secret_id);
  }
}
