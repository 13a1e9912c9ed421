import type { CredentialUse } from '../domain/repository';
import type { SnapshotCounts, SnapshotVerification } from '../domain/snapshot';
import type { SqlExecutor } from '../sql/database';
import { asDate, asJson, asOptionalDate, isUuid } from './sql-values';

export interface SnapshotView {
  id: string;
  taskId: string;
  planId: string;
  organizationId: string;
  repositoryId: string;
  fullPath: string;
  storageId: string;
  takenAt: Date;
  manifestHash: string;
  bytes: number;
  objects: number;
  newBytes: number;
  storedBytes: number;
  wiki: boolean;
  counts: SnapshotCounts;
  credentialsUsed: CredentialUse[];
  verification: SnapshotVerification | null;
  /** When its plan's retention let it go (its objects may be removed since); null while kept. */
  expiredAt: Date | null;
  expiryRule: string | null;
}

interface SnapshotRow {
  id: string;
  task_id: string;
  plan_id: string;
  organization_id: string;
  repository_id: string;
  full_path: string;
  storage_id: string;
  taken_at: unknown;
  manifest_hash: string;
  bytes: unknown;
  objects: unknown;
  new_bytes: unknown;
  stored_bytes: unknown;
  wiki: boolean;
  counts: unknown;
  credentials_used: unknown;
  verification: unknown;
  expired_at: unknown;
  expiry_rule: string | null;
}

function snapshotView(row: SnapshotRow): SnapshotView {
  return {
    id: row.id,
    taskId: row.task_id,
    planId: row.plan_id,
    organizationId: row.organization_id,
    repositoryId: row.repository_id,
    fullPath: row.full_path,
    storageId: row.storage_id,
    takenAt: asDate(row.taken_at),
    manifestHash: row.manifest_hash,
    bytes: Number(row.bytes),
    objects: Number(row.objects),
    newBytes: Number(row.new_bytes),
    storedBytes: Number(row.stored_bytes),
    wiki: row.wiki,
    counts: asJson<SnapshotCounts>(row.counts),
    credentialsUsed: asJson<CredentialUse[]>(row.credentials_used),
    verification: asJson<SnapshotVerification | null>(row.verification),
    expiredAt: asOptionalDate(row.expired_at),
    expiryRule: row.expiry_rule,
  };
}

export async function snapshotById(db: SqlExecutor, tenantId: string, id: string): Promise<SnapshotView | null> {
  if (!isUuid(id)) return null;
  const rows = await db.query<SnapshotRow>('SELECT * FROM snapshots WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return rows[0] ? snapshotView(rows[0]) : null;
}

/** The repository's latest live snapshot in the storage: what the next one is taken against (an expired one's objects may be gone). */
export async function latestSnapshotOf(db: SqlExecutor, tenantId: string, repositoryId: string, storageId: string): Promise<SnapshotView | null> {
  const rows = await db.query<SnapshotRow>(
    'SELECT * FROM snapshots WHERE tenant_id = $1 AND repository_id = $2 AND storage_id = $3 AND expired_at IS NULL ORDER BY taken_at DESC, id DESC LIMIT 1',
    [tenantId, repositoryId, storageId],
  );
  return rows[0] ? snapshotView(rows[0]) : null;
}

export interface SnapshotFilter {
  planId?: string;
  repositoryId?: string;
  taskId?: string;
  /** Expired snapshots too; left out unless asked for. */
  includeExpired?: boolean;
}

export interface SnapshotPage {
  snapshots: SnapshotView[];
  hasNextPage: boolean;
  totalCount: number;
}

/** Snapshots newest first, a page at a time; `after` is the last one seen (its time and id). */
export async function snapshotsPage(
  db: SqlExecutor,
  tenantId: string,
  filter: SnapshotFilter,
  page: { first: number; after?: { takenAt: string; id: string } },
): Promise<SnapshotPage> {
  const ids = [filter.planId, filter.repositoryId, filter.taskId];
  if (ids.some((id) => id !== undefined && !isUuid(id))) return { snapshots: [], hasNextPage: false, totalCount: 0 };
  const where = ['tenant_id = $1'];
  const params: unknown[] = [tenantId];
  const add = (column: string, value: unknown) => {
    params.push(value);
    where.push(`${column} = $${params.length}`);
  };
  if (filter.planId !== undefined) add('plan_id', filter.planId);
  if (filter.repositoryId !== undefined) add('repository_id', filter.repositoryId);
  if (filter.taskId !== undefined) add('task_id', filter.taskId);
  if (filter.includeExpired !== true) where.push('expired_at IS NULL');
  const [count] = await db.query<{ total: unknown }>(`SELECT count(*) AS total FROM snapshots WHERE ${where.join(' AND ')}`, params);
  if (page.after !== undefined) {
    params.push(page.after.takenAt, page.after.id);
    where.push(`(taken_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(page.first + 1);
  const rows = await db.query<SnapshotRow>(
    `SELECT * FROM snapshots WHERE ${where.join(' AND ')} ORDER BY taken_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  return { snapshots: rows.slice(0, page.first).map(snapshotView), hasNextPage: rows.length > page.first, totalCount: Number(count.total) };
}

/** What a task stored: its snapshots and the bytes they wrote. */
export async function taskStorage(db: SqlExecutor, tenantId: string, taskId: string): Promise<{ snapshots: number; storedBytes: number }> {
  if (!isUuid(taskId)) return { snapshots: 0, storedBytes: 0 };
  const [row] = await db.query<{ snapshots: unknown; stored: unknown }>(
    'SELECT count(*) AS snapshots, coalesce(sum(stored_bytes), 0) AS stored FROM snapshots WHERE tenant_id = $1 AND task_id = $2',
    [tenantId, taskId],
  );
  return { snapshots: Number(row.snapshots), storedBytes: Number(row.stored) };
}

/** The plan's live snapshots, of every repository: what its retention judges. */
export async function liveSnapshotsOfPlan(db: SqlExecutor, tenantId: string, planId: string): Promise<SnapshotView[]> {
  if (!isUuid(planId)) return [];
  const rows = await db.query<SnapshotRow>(
    'SELECT * FROM snapshots WHERE tenant_id = $1 AND plan_id = $2 AND expired_at IS NULL ORDER BY repository_id, taken_at DESC, id DESC',
    [tenantId, planId],
  );
  return rows.map(snapshotView);
}

/** Every live snapshot in the storage, of any plan: the objects they name are what a prune keeps. */
export async function liveSnapshotsInStorage(db: SqlExecutor, tenantId: string, storageId: string): Promise<SnapshotView[]> {
  if (!isUuid(storageId)) return [];
  const rows = await db.query<SnapshotRow>('SELECT * FROM snapshots WHERE tenant_id = $1 AND storage_id = $2 AND expired_at IS NULL ORDER BY id', [
    tenantId,
    storageId,
  ]);
  return rows.map(snapshotView);
}
