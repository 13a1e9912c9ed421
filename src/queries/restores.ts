import type { RestoreCounts, RestoreLeftOut, RestoreTarget } from '../domain/restore';
import type { SqlExecutor } from '../sql/database';
import { asActor, asDate, asJson, asOptionalDate, isUuid } from './sql-values';
import type { ActorView } from './views';

export interface RestoreView {
  id: string;
  snapshotId: string;
  repositoryId: string;
  organizationId: string;
  target: RestoreTarget;
  namespacePath: string | null;
  projectName: string | null;
  passwordId: string | null;
  status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  actor: ActorView;
  startedAt: Date;
  step: string | null;
  stepsDone: number;
  stepsTotal: number;
  projectPath: string | null;
  projectId: number | null;
  archiveUrl: string | null;
  counts: RestoreCounts | null;
  leftOut: RestoreLeftOut | null;
  reason: string | null;
  finishedAt: Date | null;
}

interface RestoreRow {
  id: string;
  snapshot_id: string;
  repository_id: string;
  organization_id: string;
  target: string;
  namespace_path: string | null;
  project_name: string | null;
  password_id: string | null;
  status: string;
  actor: unknown;
  started_at: unknown;
  step: string | null;
  steps_done: unknown;
  steps_total: unknown;
  project_path: string | null;
  project_id: unknown;
  archive_url: string | null;
  counts: unknown;
  left_out: unknown;
  reason: string | null;
  finished_at: unknown;
}

function restoreView(row: RestoreRow): RestoreView {
  return {
    id: row.id,
    snapshotId: row.snapshot_id,
    repositoryId: row.repository_id,
    organizationId: row.organization_id,
    target: row.target as RestoreTarget,
    namespacePath: row.namespace_path,
    projectName: row.project_name,
    passwordId: row.password_id,
    status: row.status as RestoreView['status'],
    actor: asActor(row.actor),
    startedAt: asDate(row.started_at),
    step: row.step,
    stepsDone: Number(row.steps_done),
    stepsTotal: Number(row.steps_total),
    projectPath: row.project_path,
    projectId: row.project_id === null || row.project_id === undefined ? null : Number(row.project_id),
    archiveUrl: row.archive_url,
    counts: asJson<RestoreCounts | null>(row.counts ?? null),
    leftOut: leftOutOf(asJson<Partial<RestoreLeftOut> | null>(row.left_out ?? null)),
    reason: row.reason,
    finishedAt: asOptionalDate(row.finished_at),
  };
}

function leftOutOf(value: Partial<RestoreLeftOut> | null): RestoreLeftOut | null {
  return value === null ? null : { refs: value.refs ?? [], mergeRequests: value.mergeRequests ?? 0, wiki: value.wiki === true };
}

export async function restoreById(db: SqlExecutor, tenantId: string, id: string): Promise<RestoreView | null> {
  if (!isUuid(id)) return null;
  const rows = await db.query<RestoreRow>('SELECT * FROM restores WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return rows[0] ? restoreView(rows[0]) : null;
}

/** A snapshot's restores, newest first. */
export async function restoresOfSnapshot(db: SqlExecutor, tenantId: string, snapshotId: string): Promise<RestoreView[]> {
  if (!isUuid(snapshotId)) return [];
  const rows = await db.query<RestoreRow>('SELECT * FROM restores WHERE tenant_id = $1 AND snapshot_id = $2 ORDER BY started_at DESC, id DESC LIMIT 100', [
    tenantId,
    snapshotId,
  ]);
  return rows.map(restoreView);
}

/** Every tenant's restores that have not ended (the few a stale-work check looks at). */
export async function runningRestores(db: SqlExecutor): Promise<{ tenantId: string; id: string }[]> {
  const rows = await db.query<{ tenant_id: string; id: string }>(`SELECT tenant_id, id FROM restores WHERE status = 'RUNNING' ORDER BY started_at LIMIT 1000`);
  return rows.map((row) => ({ tenantId: row.tenant_id, id: row.id }));
}
