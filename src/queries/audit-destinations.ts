import type { SqlExecutor } from '../sql/database';
import { asActor, asDate, asJson, asOptionalDate, isUuid } from './sql-values';
import type { ActorView } from './views';

/** A destination as the API shows it, with where its delivery stands; never the secret, never a body. */
export interface AuditDestinationView {
  id: string;
  tenantId: string;
  name: string;
  /** Origin, path segments masked, a query marked: never a secret. */
  url: string;
  urlSha256: string;
  /** The vault entry of the whole URL: for the delivery, never shown; null for an addition recorded before URLs went to the vault. */
  urlSecretId: string | null;
  eventTypes: string[] | null;
  passwordId: string;
  /** The log position of its addition: delivery starts after it. */
  addedPosition: string;
  addedAt: Date;
  addedBy: ActorView;
  delivery: {
    lastDeliveredPosition: string | null;
    lastDeliveredAt: Date | null;
    failingSince: Date | null;
    lastError: string | null;
    attempts: number;
  };
}

interface Row {
  id: string;
  tenant_id: string;
  name: string;
  masked_url: string;
  url_sha256: string;
  url_secret_id: string | null;
  event_types: unknown;
  password_id: string;
  added_position: string;
  added_at: unknown;
  added_by: unknown;
  last_delivered_position: string | null;
  last_delivered_at: unknown;
  failing_since: unknown;
  last_error: string | null;
  attempts: unknown;
}

const SELECT = `SELECT d.id, d.tenant_id, d.name, d.masked_url, d.url_sha256, d.url_secret_id, d.event_types, d.password_id, d.added_position, d.added_at, d.added_by,
                       s.last_delivered_position, s.last_delivered_at, s.failing_since, s.last_error, s.attempts
                FROM audit_destinations d LEFT JOIN audit_deliveries s ON s.destination_id = d.id`;

function view(row: Row): AuditDestinationView {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    url: row.masked_url,
    urlSha256: row.url_sha256,
    urlSecretId: row.url_secret_id,
    eventTypes: row.event_types === null ? null : asJson<string[]>(row.event_types),
    passwordId: row.password_id,
    addedPosition: row.added_position,
    addedAt: asDate(row.added_at),
    addedBy: asActor(row.added_by),
    delivery: {
      lastDeliveredPosition: row.last_delivered_position,
      lastDeliveredAt: asOptionalDate(row.last_delivered_at),
      failingSince: asOptionalDate(row.failing_since),
      lastError: row.last_error,
      attempts: Number(row.attempts ?? 0),
    },
  };
}

/** The tenant's destinations not removed, by name. */
export async function auditDestinationsOf(db: SqlExecutor, tenantId: string): Promise<AuditDestinationView[]> {
  const rows = await db.query<Row>(`${SELECT} WHERE d.tenant_id = $1 AND d.removed_at IS NULL ORDER BY lower(d.name), d.id`, [tenantId]);
  return rows.map(view);
}

export async function auditDestinationById(db: SqlExecutor, tenantId: string, id: string): Promise<AuditDestinationView | null> {
  if (!isUuid(id)) return null;
  const rows = await db.query<Row>(`${SELECT} WHERE d.tenant_id = $1 AND d.id = $2 AND d.removed_at IS NULL`, [tenantId, id]);
  return rows[0] ? view(rows[0]) : null;
}

/** Every tenant's destinations not removed: what the deliveries serve. */
export async function activeAuditDestinations(db: SqlExecutor): Promise<AuditDestinationView[]> {
  return (await db.query<Row>(`${SELECT} WHERE d.removed_at IS NULL ORDER BY d.id`)).map(view);
}

export async function auditDestinationNameTaken(db: SqlExecutor, tenantId: string, name: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM audit_destinations WHERE tenant_id = $1 AND lower(name) = lower($2) AND removed_at IS NULL', [
    tenantId,
    name.trim(),
  ]);
  return rows.length > 0;
}

/** The tenant's destinations not removed, counted: the cap's fact. */
export async function auditDestinationCount(db: SqlExecutor, tenantId: string): Promise<number> {
  const [row] = await db.query<{ count: unknown }>('SELECT count(*) AS count FROM audit_destinations WHERE tenant_id = $1 AND removed_at IS NULL', [tenantId]);
  return Number(row?.count ?? 0);
}
