import { tenantDigests, type StoredDigest } from '../audit/digest-table';
import { type DigestBounds, ExportParamError } from '../audit-export/export-params';
import type { ExportRange } from '../queries/audit-export';
import type { SqlExecutor } from '../sql/database';

/** The digests an export of whole periods covers, and where in the log their periods lie. */
export interface DigestPeriods {
  /** Their sequence numbers, as asked for (or filled in: the first digest, the newest). */
  fromDigest: number;
  toDigest: number;
  /** Oldest first. */
  digests: StoredDigest[];
  /** The digest before the first (fromDigest - 1), which the first names as previous: the bundle's anchor; null from the first digest. */
  anchor: StoredDigest | null;
  /** The first period starts after this place in the log (the previous digest's logPosition); null: at the log's start. */
  after: string | null;
  /** The last period ends at this place, inclusive; null: the log was empty. */
  upTo: string | null;
}

/**
 * The tenant's digests from `fromDigest` to `toDigest`, or a parameter error naming the bound
 * that names none of them. Sequence numbers are the tenant's own, so another tenant's digest
 * cannot be named: its number is one this tenant lacks, or one of this tenant's digests.
 */
export async function digestPeriods(db: SqlExecutor, tenantId: string, bounds: DigestBounds): Promise<DigestPeriods> {
  const fromDigest = bounds.fromDigest ?? 1;
  // The digest before the first too: its logPosition is where the first period starts.
  const afterSeq = fromDigest > 1 ? fromDigest - 2 : undefined;
  const limit = bounds.toDigest === undefined ? undefined : bounds.toDigest - (afterSeq ?? 0);
  const read = await tenantDigests(db, tenantId, { afterSeq, limit });
  const previous = read.find((digest) => digest.seq === fromDigest - 1);
  const digests = read.filter((digest) => digest.seq >= fromDigest);
  const newest = read.at(-1)?.seq ?? 0;
  if (digests[0]?.seq !== fromDigest) {
    // Without fromDigest, the first digest is missing only when the tenant has none: toDigest is what named one.
    const name = bounds.fromDigest === undefined ? 'toDigest' : 'fromDigest';
    throw new ExportParamError(name, `${name} names no digest of the tenant`);
  }
  const toDigest = bounds.toDigest ?? newest;
  if (newest !== toDigest) throw new ExportParamError('toDigest', `toDigest names no digest of the tenant: its newest is ${newest}`);
  return { fromDigest, toDigest, digests, anchor: previous ?? null, after: previous?.logPosition ?? null, upTo: digests.at(-1)?.logPosition ?? null };
}

/**
 * The audit history's rows of the periods, as a range of ordinals: the history follows the log,
 * so a place in the log is the ordinal of the last row at or before it. The row of that very place
 * is found by its index; a place no row has (EventStoreDB's last record can be one of its own) is
 * compared as two numbers, with the tenant's rows.
 */
export async function periodsRange(db: SqlExecutor, tenantId: string, periods: Pick<DigestPeriods, 'after' | 'upTo'>): Promise<ExportRange> {
  const after = await ordinalAt(db, tenantId, periods.after);
  const upTo = await ordinalAt(db, tenantId, periods.upTo);
  return { after, upTo: BigInt(upTo) < BigInt(after) ? after : upTo };
}

const POSITION = /^(?:(\d+)-(\d+)|C(\d+)\/P(\d+))$/;
const POSITION_SQL = `'^C?([0-9]+)[-/]P?([0-9]+)$'`;

async function ordinalAt(db: SqlExecutor, tenantId: string, position: string | null): Promise<string> {
  if (position === null) return '0';
  const [exact] = await db.query<{ ordinal: string }>('SELECT ordinal::text AS ordinal FROM audit_log WHERE position = $1', [position]);
  if (exact) return exact.ordinal;
  const match = POSITION.exec(position);
  if (!match) throw new Error(`a digest's logPosition is not a position: ${JSON.stringify(position)}`);
  const [a, b] = match[1] !== undefined ? [match[1], match[2]] : [match[3], match[4]];
  const [row] = await db.query<{ ordinal: string }>(
    `SELECT coalesce(max(ordinal), 0)::text AS ordinal FROM audit_log
      WHERE tenant_id = $1
        AND ARRAY[(regexp_match(position, ${POSITION_SQL}))[1]::numeric, (regexp_match(position, ${POSITION_SQL}))[2]::numeric] <= ARRAY[$2::numeric, $3::numeric]`,
    [tenantId, a, b],
  );
  return row?.ordinal ?? '0';
}
