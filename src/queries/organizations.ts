import type { SqlExecutor } from '../sql/database';
import { asActor, asDate, asDay, asJson, asOptionalDate, isUuid } from './sql-values';
import type { CredentialView, OrganizationView, TokenView } from './views';

interface OrganizationRow {
  id: string;
  provider: string;
  name: string;
  gitlab_url: string;
  auth_method: string;
  login: string | null;
  password_id: string | null;
  protect_groups: boolean;
  auto_add_new_repositories: boolean;
  sync_times: unknown;
  sync_interval_minutes: number | null;
  default_device_id: string;
  version: unknown;
  added_at: unknown;
  added_by: unknown;
  removed_at: unknown;
  gitlab_group_id: unknown;
}

interface TokenColumns {
  token_scopes: unknown;
  token_expires_at: unknown;
  verified_at: unknown;
  verification_failure: string | null;
  verification_reason: string | null;
}

function tokenView(row: TokenColumns): TokenView {
  return {
    scopes: row.token_scopes === null ? [] : asJson<string[]>(row.token_scopes),
    expiresAt: asDay(row.token_expires_at),
    verifiedAt: asOptionalDate(row.verified_at),
    failure: row.verification_failure,
    problem: row.verification_reason,
  };
}

function organizationView(row: OrganizationRow & TokenColumns): OrganizationView {
  return {
    id: row.id,
    provider: row.provider,
    name: row.name,
    gitlabUrl: row.gitlab_url,
    authMethod: row.auth_method,
    login: row.login,
    passwordId: row.password_id,
    protectGroups: row.protect_groups,
    autoAddNewRepositories: row.auto_add_new_repositories,
    repositoriesSync: { times: row.sync_times === null ? null : asJson<string[]>(row.sync_times), intervalMinutes: row.sync_interval_minutes },
    defaultDeviceId: row.default_device_id,
    version: Number(row.version),
    addedAt: asDate(row.added_at),
    addedBy: asActor(row.added_by),
    removedAt: asOptionalDate(row.removed_at),
    gitlabGroupId: row.gitlab_group_id === null ? null : Number(row.gitlab_group_id),
    token: tokenView(row),
  };
}

export async function organizationsOf(db: SqlExecutor, tenantId: string): Promise<OrganizationView[]> {
  const rows = await db.query<OrganizationRow & TokenColumns>('SELECT * FROM organizations WHERE tenant_id = $1 AND removed_at IS NULL ORDER BY name, id', [
    tenantId,
  ]);
  return rows.map(organizationView);
}

/** An organization of the tenant that has not been removed (removed ones too when asked: history refers to them), or null. */
export async function organizationById(db: SqlExecutor, tenantId: string, id: string, options: { removed?: boolean } = {}): Promise<OrganizationView | null> {
  if (!isUuid(id)) return null;
  const rows = await db.query<OrganizationRow & TokenColumns>(
    `SELECT * FROM organizations WHERE tenant_id = $1 AND id = $2${options.removed ? '' : ' AND removed_at IS NULL'}`,
    [tenantId, id],
  );
  return rows[0] ? organizationView(rows[0]) : null;
}

/** The organization already added for this group on this GitLab, if any (GitLab paths are case-insensitive). */
export async function organizationForGroup(db: SqlExecutor, tenantId: string, gitlabUrl: string, name: string): Promise<string | null> {
  const [row] = await db.query<{ id: string }>(
    'SELECT id FROM organizations WHERE tenant_id = $1 AND gitlab_url = $2 AND lower(name) = lower($3) AND removed_at IS NULL',
    [tenantId, gitlabUrl, name],
  );
  return row?.id ?? null;
}

interface CredentialRow {
  id: string;
  organization_id: string;
  login: string;
  password_id: string;
  fingerprint: string | null;
  added_at: unknown;
  added_by: unknown;
  removed_at: unknown;
  throttled_until: unknown;
  token_expiring_for: unknown;
}

const CREDENTIAL_SELECT = `SELECT c.*, p.fingerprint FROM credentials c
  LEFT JOIN passwords p ON p.id = c.password_id AND p.deleted_at IS NULL`;

function credentialView(row: CredentialRow & TokenColumns): CredentialView {
  return {
    id: row.id,
    organizationId: row.organization_id,
    login: row.login,
    passwordId: row.password_id,
    fingerprint: row.fingerprint,
    addedAt: asDate(row.added_at),
    addedBy: asActor(row.added_by),
    removedAt: asOptionalDate(row.removed_at),
    token: tokenView(row),
    throttledUntil: asOptionalDate(row.throttled_until),
    expiringRecordedFor: asDay(row.token_expiring_for),
  };
}

/** The organization's credentials that have not been removed, oldest first. */
export async function credentialsOf(db: SqlExecutor, tenantId: string, organizationId: string): Promise<CredentialView[]> {
  if (!isUuid(organizationId)) return [];
  const rows = await db.query<CredentialRow & TokenColumns>(
    `${CREDENTIAL_SELECT} WHERE c.tenant_id = $1 AND c.organization_id = $2 AND c.removed_at IS NULL ORDER BY c.added_at, c.id`,
    [tenantId, organizationId],
  );
  return rows.map(credentialView);
}

/** A credential of the tenant, removed ones included (history refers to them). */
export async function credentialById(db: SqlExecutor, tenantId: string, id: string): Promise<CredentialView | null> {
  if (!isUuid(id)) return null;
  const rows = await db.query<CredentialRow & TokenColumns>(`${CREDENTIAL_SELECT} WHERE c.tenant_id = $1 AND c.id = $2`, [tenantId, id]);
  return rows[0] ? credentialView(rows[0]) : null;
}

export async function credentialsByIds(db: SqlExecutor, tenantId: string, ids: string[]): Promise<CredentialView[]> {
  const valid = ids.filter(isUuid);
  if (valid.length === 0) return [];
  const rows = await db.query<CredentialRow & TokenColumns>(`${CREDENTIAL_SELECT} WHERE c.tenant_id = $1 AND c.id = ANY($2::uuid[])`, [tenantId, valid]);
  return rows.map(credentialView);
}
