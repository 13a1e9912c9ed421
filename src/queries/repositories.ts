import type { SqlExecutor } from '../sql/database';
import { asActor, asDate, asJson, asOptionalDate, isUuid } from './sql-values';
import type { ActorView } from './views';

export interface RepositoryView {
  id: string;
  organizationId: string;
  gitlabId: number;
  kind: 'PROJECT' | 'GROUP';
  fullPath: string;
  protected: boolean;
  protectedAt: Date | null;
  protectedBy: ActorView | null;
  protectedAutomatically: boolean;
  discoveredAt: Date;
  removedAt: Date | null;
}

export interface RepositorySyncView {
  id: string;
  organizationId: string;
  status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  trigger: string;
  startedAt: Date;
  finishedAt: Date | null;
  added: number | null;
  removed: number | null;
  renamed: number | null;
  unchanged: number | null;
  requests: number | null;
  durationMs: number | null;
  credentialsUsed: { credentialId: string | null; login: string; requests: number }[];
  reason: string | null;
}

interface RepositoryRow {
  id: string;
  organization_id: string;
  gitlab_id: unknown;
  kind: 'PROJECT' | 'GROUP';
  full_path: string;
  protected: boolean;
  protected_at: unknown;
  protected_by: unknown;
  protected_automatically: boolean | null;
  discovered_at: unknown;
  removed_at: unknown;
}

function repositoryView(row: RepositoryRow): RepositoryView {
  return {
    id: row.id,
    organizationId: row.organization_id,
    gitlabId: Number(row.gitlab_id),
    kind: row.kind,
    fullPath: row.full_path,
    protected: row.protected,
    protectedAt: asOptionalDate(row.protected_at),
    protectedBy: row.protected_by === null ? null : asActor(row.protected_by),
    protectedAutomatically: row.protected_automatically === true,
    discoveredAt: asDate(row.discovered_at),
    removedAt: asOptionalDate(row.removed_at),
  };
}

/** A page of an organization's repositories still on GitLab, by full path; `after` is the last id of the previous page. */
export async function repositoriesPage(
  db: SqlExecutor,
  tenantId: string,
  organizationId: string,
  options: { protected?: boolean; first: number; after?: { fullPath: string; id: string } },
): Promise<{ repositories: RepositoryView[]; hasNextPage: boolean; totalCount: number }> {
  if (!isUuid(organizationId)) return { repositories: [], hasNextPage: false, totalCount: 0 };
  const params: unknown[] = [tenantId, organizationId];
  let where = 'tenant_id = $1 AND organization_id = $2 AND removed_at IS NULL';
  if (options.protected !== undefined) {
    params.push(options.protected);
    where += ` AND protected = $${params.length}`;
  }
  const [{ count }] = await db.query<{ count: unknown }>(`SELECT count(*) AS count FROM repositories WHERE ${where}`, params);
  if (options.after) {
    params.push(options.after.fullPath, options.after.id);
    where += ` AND (full_path, id) > ($${params.length - 1}, $${params.length}::uuid)`;
  }
  params.push(options.first + 1);
  const rows = await db.query<RepositoryRow>(`SELECT * FROM repositories WHERE ${where} ORDER BY full_path, id LIMIT $${params.length}`, params);
  return { repositories: rows.slice(0, options.first).map(repositoryView), hasNextPage: rows.length > options.first, totalCount: Number(count) };
}

/** A repository of the tenant, removed ones included (history and tasks name them). */
export async function repositoryById(db: SqlExecutor, tenantId: string, id: string): Promise<RepositoryView | null> {
  if (!isUuid(id)) return null;
  const rows = await db.query<RepositoryRow>('SELECT * FROM repositories WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return rows[0] ? repositoryView(rows[0]) : null;
}

/** The protected projects of an organization that GitLab still lists: what a plan run backs up. */
export async function protectedProjects(db: SqlExecutor, tenantId: string, organizationId: string): Promise<RepositoryView[]> {
  const rows = await db.query<RepositoryRow>(
    `SELECT * FROM repositories WHERE tenant_id = $1 AND organization_id = $2 AND kind = 'PROJECT' AND protected AND removed_at IS NULL ORDER BY full_path, id`,
    [tenantId, organizationId],
  );
  return rows.map(repositoryView);
}

/** The tenant's license: its limit (null: none set) and the seats in use (protected projects of its organizations). */
export async function licenseSeats(db: SqlExecutor, tenantId: string): Promise<{ limit: number | null; used: number }> {
  const [row] = await db.query<{ limit: number | null; used: unknown }>(
    `SELECT (SELECT license_seats FROM tenants WHERE id = $1) AS limit,
            (SELECT count(*) FROM repositories r JOIN organizations o ON o.id = r.organization_id
              WHERE r.tenant_id = $1 AND r.kind = 'PROJECT' AND r.protected AND r.removed_at IS NULL AND o.removed_at IS NULL) AS used`,
    [tenantId],
  );
  return { limit: row.limit === null ? null : Number(row.limit), used: Number(row.used) };
}

/** Seats left (null: no limit). */
export async function freeSeats(db: SqlExecutor, tenantId: string): Promise<number | null> {
  const { limit, used } = await licenseSeats(db, tenantId);
  return limit === null ? null : Math.max(0, limit - used);
}

interface SyncRow {
  id: string;
  organization_id: string;
  status: RepositorySyncView['status'];
  trigger: string;
  started_at: unknown;
  finished_at: unknown;
  added: number | null;
  removed: number | null;
  renamed: number | null;
  unchanged: number | null;
  requests: number | null;
  duration_ms: number | null;
  credentials_used: unknown;
  reason: string | null;
}

function syncView(row: SyncRow): RepositorySyncView {
  return {
    id: row.id,
    organizationId: row.organization_id,
    status: row.status,
    trigger: row.trigger,
    startedAt: asDate(row.started_at),
    finishedAt: asOptionalDate(row.finished_at),
    added: row.added,
    removed: row.removed,
    renamed: row.renamed,
    unchanged: row.unchanged,
    requests: row.requests,
    durationMs: row.duration_ms,
    credentialsUsed: row.credentials_used === null ? [] : asJson(row.credentials_used),
    reason: row.reason,
  };
}

export async function syncById(db: SqlExecutor, tenantId: string, id: string): Promise<RepositorySyncView | null> {
  if (!isUuid(id)) return null;
  const rows = await db.query<SyncRow>('SELECT * FROM repository_syncs WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return rows[0] ? syncView(rows[0]) : null;
}

/** The organization's syncs, newest first. */
export async function syncsOf(db: SqlExecutor, tenantId: string, organizationId: string, limit = 20): Promise<RepositorySyncView[]> {
  if (!isUuid(organizationId)) return [];
  const rows = await db.query<SyncRow>('SELECT * FROM repository_syncs WHERE tenant_id = $1 AND organization_id = $2 ORDER BY started_at DESC, id LIMIT $3', [
    tenantId,
    organizationId,
    limit,
  ]);
  return rows.map(syncView);
}

/** Every active organization of every tenant with when its last sync started: what the scheduler looks at. */
export async function syncSchedules(db: SqlExecutor): Promise<{ tenantId: string; organizationId: string; lastStartedAt: Date | null }[]> {
  const rows = await db.query<{ tenant_id: string; id: string; last_started_at: unknown }>(
    `SELECT o.tenant_id, o.id, (SELECT max(started_at) FROM repository_syncs s WHERE s.organization_id = o.id) AS last_started_at
       FROM organizations o WHERE o.removed_at IS NULL ORDER BY o.added_at`,
  );
  return rows.map((row) => ({ tenantId: row.tenant_id, organizationId: row.id, lastStartedAt: asOptionalDate(row.last_started_at) }));
}
