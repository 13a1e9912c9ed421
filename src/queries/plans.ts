import type { SqlExecutor } from '../sql/database';
import { credentialsByIds, credentialsOf } from './organizations';
import type { PlanSchedule } from '../domain/plan';
import { asActor, asDate, asJson, asOptionalDate, isUuid } from './sql-values';
import type { PlanCredentialView, PlanView } from './views';

interface PlanRow {
  id: string;
  organization_id: string;
  name: string;
  additional_credentials_enabled: boolean;
  storage_id: string | null;
  schedule: unknown;
  schedule_set_at: unknown;
  keep_last: number | null;
  keep_daily: number | null;
  keep_weekly: number | null;
  keep_monthly: number | null;
  version: unknown;
  created_at: unknown;
  deleted_at: unknown;
}

/** PlanRow's columns, named (a statement kept prepared must not read `*`). */
const PLAN_COLUMNS =
  'id, organization_id, name, additional_credentials_enabled, storage_id, schedule, schedule_set_at, keep_last, keep_daily, keep_weekly, keep_monthly, version, created_at, deleted_at';

function planView(row: PlanRow): PlanView {
  return {
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    additionalCredentialsEnabled: row.additional_credentials_enabled,
    storageId: row.storage_id,
    schedule: asJson<PlanSchedule | null>(row.schedule),
    scheduleSetAt: asOptionalDate(row.schedule_set_at),
    retention: { keepLast: count(row.keep_last), keepDaily: count(row.keep_daily), keepWeekly: count(row.keep_weekly), keepMonthly: count(row.keep_monthly) },
    version: Number(row.version),
    createdAt: asDate(row.created_at),
    deletedAt: asOptionalDate(row.deleted_at),
  };
}

const count = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

export async function plansOf(db: SqlExecutor, tenantId: string, organizationId?: string): Promise<PlanView[]> {
  if (organizationId !== undefined && !isUuid(organizationId)) return [];
  const rows =
    organizationId === undefined
      ? await db.query<PlanRow>('SELECT * FROM plans WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY name, id', [tenantId])
      : await db.query<PlanRow>('SELECT * FROM plans WHERE tenant_id = $1 AND organization_id = $2 AND deleted_at IS NULL ORDER BY name, id', [
          tenantId,
          organizationId,
        ]);
  return rows.map(planView);
}

/** A plan of the tenant; deleted plans only when asked for (history refers to them). */
export async function planById(db: SqlExecutor, tenantId: string, id: string, options: { deleted?: boolean } = {}): Promise<PlanView | null> {
  if (!isUuid(id)) return null;
  // Every change of a plan answers with it.
  const rows = await db.query<PlanRow>(
    `SELECT ${PLAN_COLUMNS} FROM plans WHERE tenant_id = $1 AND id = $2${options.deleted ? '' : ' AND deleted_at IS NULL'}`,
    [tenantId, id],
    { prepared: true },
  );
  return rows[0] ? planView(rows[0]) : null;
}

export async function planNameTaken(db: SqlExecutor, tenantId: string, name: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM plans WHERE tenant_id = $1 AND lower(name) = lower($2) AND deleted_at IS NULL', [tenantId, name.trim()]);
  return rows.length > 0;
}

/** Plans of the tenant that have the credential switched on now. */
export async function plansUsingCredential(db: SqlExecutor, tenantId: string, credentialId: string): Promise<string[]> {
  const rows = await db.query<{ plan_id: string }>(
    `SELECT pc.plan_id FROM plan_credentials pc JOIN plans p ON p.id = pc.plan_id AND p.deleted_at IS NULL
      WHERE pc.tenant_id = $1 AND pc.credential_id = $2 AND pc.enabled ORDER BY pc.plan_id`,
    [tenantId, credentialId],
    { prepared: true },
  );
  return rows.map((row) => row.plan_id);
}

interface PlanCredentialRow {
  credential_id: string;
  enabled: boolean;
  changed_at: unknown;
  changed_by: unknown;
}

/** Every credential of the plan's organization, with whether the plan has it on and since when. */
export async function planCredentials(db: SqlExecutor, tenantId: string, plan: PlanView): Promise<PlanCredentialView[]> {
  // Side by side: each is a statement of its own (a snapshot of its own) either way.
  const [credentials, rows] = await Promise.all([
    credentialsOf(db, tenantId, plan.organizationId),
    db.query<PlanCredentialRow>('SELECT credential_id, enabled, changed_at, changed_by FROM plan_credentials WHERE tenant_id = $1 AND plan_id = $2', [
      tenantId,
      plan.id,
    ]),
  ]);
  const byCredential = new Map(rows.map((row) => [row.credential_id, row]));
  return credentials.map((credential) => {
    const row = byCredential.get(credential.id);
    const enabled = row?.enabled === true;
    return {
      credential,
      enabled,
      effective: enabled && plan.additionalCredentialsEnabled,
      enabledAt: enabled ? asDate(row!.changed_at) : null,
      enabledBy: enabled ? asActor(row!.changed_by) : null,
    };
  });
}

interface IntervalRow {
  credential_id: string;
  enabled_from: unknown;
  enabled_by: unknown;
  switch_on: boolean;
}

/** Which credentials the plan had on at an instant, and which of them were effective, from the interval read model. */
export async function planCredentialsAsOf(db: SqlExecutor, tenantId: string, plan: PlanView, at: Date): Promise<PlanCredentialView[]> {
  const rows = await db.query<IntervalRow>(
    `SELECT i.credential_id, i.enabled_from, i.enabled_by,
            EXISTS (SELECT 1 FROM plan_switch_intervals s WHERE s.plan_id = i.plan_id AND s.on_from <= $3 AND (s.on_to IS NULL OR s.on_to > $3)) AS switch_on
       FROM plan_credential_intervals i
      WHERE i.tenant_id = $1 AND i.plan_id = $2 AND i.enabled_from <= $3 AND (i.enabled_to IS NULL OR i.enabled_to > $3)
      ORDER BY i.enabled_from, i.credential_id`,
    [tenantId, plan.id, at.toISOString()],
  );
  const credentials = new Map(
    (
      await credentialsByIds(
        db,
        tenantId,
        rows.map((row) => row.credential_id),
      )
    ).map((credential) => [credential.id, credential]),
  );
  return rows
    .filter((row) => credentials.has(row.credential_id))
    .map((row) => ({
      credential: credentials.get(row.credential_id)!,
      enabled: true,
      effective: row.switch_on === true,
      enabledAt: asDate(row.enabled_from),
      enabledBy: asActor(row.enabled_by),
    }));
}

export interface ScheduledPlan {
  tenantId: string;
  plan: PlanView;
  /** The start of its latest run, of any trigger; null when it never ran. */
  lastStartedAt: Date | null;
}

/** Every tenant's plans that run by a schedule, with their latest run's start: what the plan scheduler looks at. */
export async function scheduledPlans(db: SqlExecutor): Promise<ScheduledPlan[]> {
  const rows = await db.query<PlanRow & { tenant_id: string; last_started_at: unknown }>(
    `SELECT p.*, (SELECT max(t.started_at) FROM tasks t WHERE t.tenant_id = p.tenant_id AND t.plan_id = p.id) AS last_started_at
       FROM plans p WHERE p.schedule IS NOT NULL AND p.deleted_at IS NULL ORDER BY p.tenant_id, p.id`,
  );
  return rows.map((row) => ({ tenantId: row.tenant_id, plan: planView(row), lastStartedAt: asOptionalDate(row.last_started_at) }));
}

/** The start of the plan's latest run; null when it never ran. */
export async function lastRunStartOf(db: SqlExecutor, tenantId: string, planId: string): Promise<Date | null> {
  if (!isUuid(planId)) return null;
  const [row] = await db.query<{ last: unknown }>('SELECT max(started_at) AS last FROM tasks WHERE tenant_id = $1 AND plan_id = $2', [tenantId, planId]);
  return asOptionalDate(row?.last ?? null);
}

/** The tenant's tasks not ended whose plan keeps its snapshots in the storage (a plan without one: the default storage); deleted plans' too. */
export async function unfinishedTasksOnStorage(db: SqlExecutor, tenantId: string, storageId: string, isDefault: boolean): Promise<string[]> {
  if (!isUuid(storageId)) return [];
  const rows = await db.query<{ id: string }>(
    `SELECT t.id FROM tasks t JOIN plans p ON p.id = t.plan_id
      WHERE t.tenant_id = $1 AND t.status IN ('RUNNING', 'THROTTLED') AND (p.storage_id = $2${isDefault ? ' OR p.storage_id IS NULL' : ''}) ORDER BY t.id`,
    [tenantId, storageId],
  );
  return rows.map((row) => row.id);
}
