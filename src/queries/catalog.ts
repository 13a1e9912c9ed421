// The password manager's entries and the devices: what organizations and credentials refer to.
import type { SqlExecutor } from '../sql/database';
import { asDate, isUuid } from './sql-values';
import type { DeviceView, PasswordView } from './views';

interface PasswordRow {
  id: string;
  name: string;
  description: string;
  fingerprint: string;
  created_at: unknown;
  updated_at: unknown;
}

const passwordView = (row: PasswordRow): PasswordView => ({
  id: row.id,
  name: row.name,
  description: row.description,
  fingerprint: row.fingerprint,
  createdAt: asDate(row.created_at),
  updatedAt: asDate(row.updated_at),
});

export async function passwordsOf(db: SqlExecutor, tenantId: string): Promise<PasswordView[]> {
  const rows = await db.query<PasswordRow>('SELECT * FROM passwords WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY name, id', [tenantId]);
  return rows.map(passwordView);
}

export async function passwordById(db: SqlExecutor, tenantId: string, id: string): Promise<PasswordView | null> {
  if (!isUuid(id)) return null;
  const rows = await db.query<PasswordRow>('SELECT * FROM passwords WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL', [tenantId, id]);
  return rows[0] ? passwordView(rows[0]) : null;
}

export async function passwordNameTaken(db: SqlExecutor, tenantId: string, name: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM passwords WHERE tenant_id = $1 AND lower(name) = lower($2) AND deleted_at IS NULL', [tenantId, name.trim()]);
  return rows.length > 0;
}

/** What uses a password entry now, in words a person can act on. */
export async function passwordUsers(db: SqlExecutor, tenantId: string, passwordId: string): Promise<string[]> {
  const rows = await db.query<{ what: string }>(
    `SELECT 'organization ' || name AS what FROM organizations WHERE tenant_id = $1 AND password_id = $2 AND removed_at IS NULL
     UNION ALL
     SELECT 'credential ' || c.login || ' of organization ' || o.name FROM credentials c JOIN organizations o ON o.id = c.organization_id
      WHERE c.tenant_id = $1 AND c.password_id = $2 AND c.removed_at IS NULL
     UNION ALL
     SELECT 'storage ' || name FROM storages WHERE tenant_id = $1 AND password_id = $2 AND removed_at IS NULL
     ORDER BY 1`,
    [tenantId, passwordId],
  );
  return rows.map((row) => row.what);
}

interface DeviceRow {
  id: string;
  name: string;
  built_in: boolean;
  registered_at: unknown;
}

const deviceView = (row: DeviceRow): DeviceView => ({ id: row.id, name: row.name, builtIn: row.built_in, registeredAt: asDate(row.registered_at) });

export async function devicesOf(db: SqlExecutor, tenantId: string): Promise<DeviceView[]> {
  const rows = await db.query<DeviceRow>('SELECT * FROM devices WHERE tenant_id = $1 ORDER BY built_in DESC, name, id', [tenantId]);
  return rows.map(deviceView);
}

export async function deviceById(db: SqlExecutor, tenantId: string, id: string): Promise<DeviceView | null> {
  if (!isUuid(id)) return null;
  const rows = await db.query<DeviceRow>('SELECT * FROM devices WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return rows[0] ? deviceView(rows[0]) : null;
}

export async function deviceNameTaken(db: SqlExecutor, tenantId: string, name: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM devices WHERE tenant_id = $1 AND lower(name) = lower($2)', [tenantId, name.trim()]);
  return rows.length > 0;
}

/** Whether the entry holds an SSO organization's authorization (its tokens, kept by Backplane). */
export async function passwordHoldsAuthorization(db: SqlExecutor, tenantId: string, passwordId: string): Promise<boolean> {
  if (!isUuid(passwordId)) return false;
  const rows = await db.query("SELECT 1 FROM organizations WHERE tenant_id = $1 AND password_id = $2 AND auth_method = 'SSO' AND removed_at IS NULL", [
    tenantId,
    passwordId,
  ]);
  return rows.length > 0;
}

/** The vault row holding a password entry's secret now, or null (no such entry, deleted, another tenant's). */
export async function passwordSecretId(db: SqlExecutor, tenantId: string, passwordId: string): Promise<string | null> {
  if (!isUuid(passwordId)) return null;
  const rows = await db.query<{ secret_id: string | null }>('SELECT secret_id FROM passwords WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL', [
    tenantId,
    passwordId,
  ]);
  return rows[0]?.secret_id ?? null;
}
