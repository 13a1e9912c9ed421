import type { SqlExecutor } from '../sql/database';
import { credentialsByIds, credentialsOf } from './organizations';
import { asActor, asDate, asOptionalDate, isUuid } from './sql-values';
import type { PlanCredentialView, PlanView } from './views';

interface PlanRow {
  id: string;
  organization_id: string;
  name: string;
  additional_credentials_enabled: boolean;
  version: unknown;
  created_at: unknown;
  deleted_at: unknown;
}

function planView(row: PlanRow): PlanView {
  return {
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    additionalCredentialsEnabled: row.additional_credentials_enabled,
    version: Number(row.version),
    createdAt: asDate(row.created_at),
    deletedAt: asOptionalDate(row.deleted_at),
  };
}

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
  const rows = await db.query<PlanRow>(`SELECT * FROM plans WHERE tenant_id = $1 AND id = $2${options.deleted ? '' : ' AND deleted_at IS NULL'}`, [
    tenantId,
    id,
  ]);
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
  const credentials = await credentialsOf(db, tenantId, plan.organizationId);
  const rows = await db.query<PlanCredentialRow>(
    'SELECT credential_id, enabled, changed_at, changed_by FROM plan_credentials WHERE tenant_id = $1 AND plan_id = $2',
    [tenantId, plan.id],
  );
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
