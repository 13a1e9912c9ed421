import type { SqlDatabase, SqlExecutor } from '../sql/database';
import { migrate, type Migration } from '../sql/migrate';
import type { SignedDigest } from './digest';
import { migrateSigningKeys } from './signing-keys';

const migrations: readonly Migration[] = [
  [
    // Outside the event log: a digest vouches for the log, so it cannot be one of its events.
    // seq is the digest's place in its tenant's chain, from 1: two writers cannot both append
    // the next link, nor two digests end one tenant's period at the same instant.
    `CREATE TABLE audit_digests (
       tenant_id text NOT NULL,
       seq integer NOT NULL,
       period_start timestamptz NOT NULL,
       period_end timestamptz NOT NULL,
       log_position text,
       payload text NOT NULL,
       signature text NOT NULL,
       key_id text NOT NULL REFERENCES audit_signing_keys (key_id),
       created_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (tenant_id, seq),
       UNIQUE (tenant_id, period_end))`,
  ],
];

export interface StoredDigest extends SignedDigest {
  tenantId: string;
  seq: number;
  periodStart: Date;
  periodEnd: Date;
  logPosition: string | null;
}

interface DigestRow {
  tenant_id: string;
  seq: number;
  period_start: Date | string;
  period_end: Date | string;
  log_position: string | null;
  payload: string;
  signature: string;
  key_id: string;
}

const COLUMNS = 'tenant_id, seq, period_start, period_end, log_position, payload, signature, key_id';

export async function migrateDigests(db: SqlDatabase): Promise<void> {
  await migrateSigningKeys(db);
  await migrate(db, 'audit-digests', migrations);
}

function digestOf(row: DigestRow): StoredDigest {
  return {
    tenantId: row.tenant_id,
    seq: Number(row.seq),
    periodStart: new Date(row.period_start),
    periodEnd: new Date(row.period_end),
    logPosition: row.log_position,
    payload: row.payload,
    signature: row.signature,
    keyId: row.key_id,
  };
}

/** Each tenant's latest digest. */
export async function lastDigests(db: SqlExecutor): Promise<Map<string, StoredDigest>> {
  const rows = await db.query<DigestRow>(`SELECT DISTINCT ON (tenant_id) ${COLUMNS} FROM audit_digests ORDER BY tenant_id, seq DESC`);
  return new Map(rows.map((row) => [row.tenant_id, digestOf(row)]));
}

export async function insertDigest(db: SqlExecutor, digest: StoredDigest): Promise<void> {
  await db.query(`INSERT INTO audit_digests (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [
    digest.tenantId,
    digest.seq,
    digest.periodStart.toISOString(),
    digest.periodEnd.toISOString(),
    digest.logPosition,
    digest.payload,
    digest.signature,
    digest.keyId,
  ]);
}

export interface DigestRange {
  /** After this place in the chain. */
  afterSeq?: number;
  limit?: number;
  /** Digests whose period ends after this instant. */
  from?: Date;
  /** Digests whose period starts before this instant. */
  to?: Date;
}

/** One tenant's digests in chain order. */
export async function tenantDigests(db: SqlExecutor, tenantId: string, range: DigestRange = {}): Promise<StoredDigest[]> {
  const params: unknown[] = [tenantId];
  const where = ['tenant_id = $1'];
  if (range.afterSeq !== undefined) where.push(`seq > $${params.push(range.afterSeq)}`);
  if (range.from !== undefined) where.push(`period_end > $${params.push(range.from.toISOString())}`);
  if (range.to !== undefined) where.push(`period_start < $${params.push(range.to.toISOString())}`);
  const limit = range.limit === undefined ? '' : ` LIMIT $${params.push(range.limit)}`;
  const rows = await db.query<DigestRow>(`SELECT ${COLUMNS} FROM audit_digests WHERE ${where.join(' AND ')} ORDER BY seq${limit}`, params);
  return rows.map(digestOf);
}
