import type { CredentialUse } from '../domain/repository';
import type { ThrottledPeriod } from '../domain/task';
import type { SqlExecutor } from '../sql/database';
import { asActor, asDate, asJson, asOptionalDate, isUuid } from './sql-values';
import type { ActorView } from './views';

export interface TaskView {
  id: string;
  planId: string;
  organizationId: string;
  status: 'RUNNING' | 'THROTTLED' | 'COMPLETED' | 'FAILED';
  repositoriesTotal: number;
  repositoriesDone: number;
  repositoriesFailed: number;
  startedAt: Date;
  startedBy: ActorView;
  finishedAt: Date | null;
  /** Known once the task has ended; empty while it runs. */
  credentialsUsed: CredentialUse[];
  throttledPeriods: ThrottledPeriod[];
  reason: string | null;
  /** The revision of the task's stream the row shows. */
  version: number;
}

interface TaskRow {
  id: string;
  plan_id: string;
  organization_id: string;
  status: TaskView['status'];
  repositories_total: unknown;
  repositories_done: unknown;
  repositories_failed: unknown;
  started_at: unknown;
  started_by: unknown;
  finished_at: unknown;
  credentials_used: unknown;
  throttled_periods: unknown;
  reason: string | null;
  version: unknown;
}

function taskView(row: TaskRow): TaskView {
  return {
    id: row.id,
    planId: row.plan_id,
    organizationId: row.organization_id,
    status: row.status,
    repositoriesTotal: Number(row.repositories_total),
    repositoriesDone: Number(row.repositories_done),
    repositoriesFailed: Number(row.repositories_failed),
    startedAt: asDate(row.started_at),
    startedBy: asActor(row.started_by),
    finishedAt: asOptionalDate(row.finished_at),
    credentialsUsed: asJson<CredentialUse[] | null>(row.credentials_used) ?? [],
    throttledPeriods: asJson<ThrottledPeriod[] | null>(row.throttled_periods) ?? [],
    reason: row.reason,
    version: Number(row.version),
  };
}

export async function taskById(db: SqlExecutor, tenantId: string, id: string): Promise<TaskView | null> {
  if (!isUuid(id)) return null;
  const rows = await db.query<TaskRow>('SELECT * FROM tasks WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return rows[0] ? taskView(rows[0]) : null;
}

/** How many of a plan's tasks a list holds at most: a plan run hourly makes thousands a year. */
export const TASKS_LISTED = 100;

/** The plan's latest tasks, newest first (at most `limit`). */
export async function tasksOf(db: SqlExecutor, tenantId: string, planId: string, limit = TASKS_LISTED): Promise<TaskView[]> {
  if (!isUuid(planId)) return [];
  const rows = await db.query<TaskRow>('SELECT * FROM tasks WHERE tenant_id = $1 AND plan_id = $2 ORDER BY started_at DESC, id DESC LIMIT $3', [
    tenantId,
    planId,
    limit,
  ]);
  return rows.map(taskView);
}

/** The plan's task that has not ended, if any. */
export async function unfinishedTaskOf(db: SqlExecutor, tenantId: string, planId: string): Promise<TaskView | null> {
  const rows = await db.query<TaskRow>(`SELECT * FROM tasks WHERE tenant_id = $1 AND plan_id = $2 AND status IN ('RUNNING', 'THROTTLED') LIMIT 1`, [
    tenantId,
    planId,
  ]);
  return rows[0] ? taskView(rows[0]) : null;
}

/** Every tenant's tasks that have not ended (the few a stale-work check looks at). */
export async function unfinishedTasks(db: SqlExecutor): Promise<{ tenantId: string; id: string }[]> {
  const rows = await db.query<{ tenant_id: string; id: string }>(
    `SELECT tenant_id, id FROM tasks WHERE status IN ('RUNNING', 'THROTTLED') ORDER BY started_at LIMIT 1000`,
  );
  return rows.map((row) => ({ tenantId: row.tenant_id, id: row.id }));
}
