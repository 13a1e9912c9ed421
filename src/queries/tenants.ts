import type { SqlExecutor } from '../sql/database';
import { tokenDigest } from '../auth/api-tokens';
import { asDate, asOptionalDate, isUuid } from './sql-values';
import type { ApiTokenView, TenantView } from './views';

const TOKEN_COLUMNS = 't.id, t.tenant_id, t.name, t.role, t.created_at, t.revoked_at, t.root';

interface TokenRow {
  id: string;
  tenant_id: string;
  name: string;
  role: string;
  created_at: unknown;
  revoked_at: unknown;
  root: boolean;
}

function tokenView(row: TokenRow): ApiTokenView {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    role: row.role,
    root: row.root === true,
    createdAt: asDate(row.created_at),
    revokedAt: asOptionalDate(row.revoked_at),
  };
}

/** The active token a bearer value names, or null: unknown, revoked, or not yet projected. */
export async function tokenByValue(db: SqlExecutor, token: string): Promise<ApiTokenView | null> {
  const rows = await db.query<TokenRow>(
    `SELECT ${TOKEN_COLUMNS} FROM api_token_digests d
       JOIN api_tokens t ON t.id = d.token_id AND t.tenant_id = d.tenant_id
      WHERE d.digest = $1 AND t.revoked_at IS NULL`,
    [tokenDigest(token)],
    { prepared: true },
  );
  return rows[0] ? tokenView(rows[0]) : null;
}

export async function tokenById(db: SqlExecutor, tenantId: string, tokenId: string): Promise<ApiTokenView | null> {
  if (!isUuid(tokenId)) return null;
  const rows = await db.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens t WHERE t.tenant_id = $1 AND t.id = $2`, [tenantId, tokenId]);
  return rows[0] ? tokenView(rows[0]) : null;
}

export async function tokensOf(db: SqlExecutor, tenantId: string): Promise<ApiTokenView[]> {
  const rows = await db.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens t WHERE t.tenant_id = $1 ORDER BY t.created_at, t.id`, [tenantId]);
  return rows.map(tokenView);
}

export async function tenantById(db: SqlExecutor, tenantId: string): Promise<TenantView | null> {
  const [row] = await db.query<TenantView>('SELECT id, name FROM tenants WHERE id = $1', [tenantId]);
  return row ?? null;
}

export async function tenantNameTaken(db: SqlExecutor, name: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM tenants WHERE lower(name) = lower($1)', [name]);
  return rows.length > 0;
}
