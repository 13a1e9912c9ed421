import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHash, GENESIS_DIGEST_HASH, payloadText, signDigest, type SignedDigest, type SignedHead } from '../audit/digest';
import { insertDigest, lastDigests, migrateDigests, tenantDigests, type StoredDigest } from '../audit/digest-table';
import { writeDurably } from '../audit/durable-file';
import { keyHistoryFiles } from '../audit/key-history';
import { AuditSigner, DIGEST_WRITERS_LOCK, signingKeys, type SigningKeySource } from '../audit/signing-keys';
import { tenantStream } from '../domain/tenant';
import { BackplaneError } from '../errors';
import type { EventStore, Position, RecordedEvent } from '../eventstore/types';
import { LockTimeoutError } from '../sql/database';
import type { SqlDatabase, SqlExecutor } from '../sql/database';

/** Signed digests of the log: how they are signed, where else they are written, and how often. */
export interface AuditDigestSettings {
  signer: AuditSigner;
  /** BACKPLANE_AUDIT_DIGEST_DIR: each digest is also written there as <tenant>/<periodEnd>.json; null: the database only. */
  dir: string | null;
  /** BACKPLANE_AUDIT_DIGEST_MINUTES: the length of a scheduled period. */
  intervalMinutes: number;
  /** What the digests take to be now. */
  clock: () => Date;
  /** The signing keys' history outside the database (key-history.ts), which verification holds the table to. */
  keyFiles: string[];
  /** How long a writer waits for another to finish (default a minute). */
  lockTimeoutMs?: number;
}

/**
 * Another writer of digests held the lock too long, or the tenant is not in the read model yet:
 * nothing was signed and the same call may be made again (CONFLICT, as the API says "try again").
 */
export class DigestTryAgainError extends BackplaneError {
  constructor(message: string) {
    super('CONFLICT', `${message}; try again`);
  }
}

/** Loads (or makes) the signing key, agrees on it with the database, and brings the digests' table up to date. */
export async function openAuditDigests(
  db: SqlDatabase,
  options: SigningKeySource & Omit<AuditDigestSettings, 'signer' | 'keyFiles'>,
): Promise<AuditDigestSettings> {
  const where = { dataDir: options.dataDir, digestDir: options.dir };
  const signer = await AuditSigner.open(db, { pem: options.pem, ...where });
  await migrateDigests(db);
  return { signer, dir: options.dir, intervalMinutes: options.intervalMinutes, clock: options.clock, keyFiles: keyHistoryFiles(where) };
}

export interface DigestDeps {
  db: SqlDatabase;
  store: EventStore;
  auditDigests: AuditDigestSettings;
  /** Where the service runs: waits (a bounded while) until the log is readable up to its last committed change. */
  settleHistory?(): Promise<void>;
}

/** One writer of digests at a time across the processes on the database: the chain of each tenant has one next link. */
const LOCK = DIGEST_WRITERS_LOCK;
const LOCK_TIMEOUT_MS = 60_000;
const PAGE = 1000;

/** The tenant's digest of the log up to now, made on demand (createAuditDigest). */
export async function createAuditDigest(deps: DigestDeps, tenantId: string): Promise<StoredDigest> {
  // A change answered before is committed, but readable only once older transactions end: it is
  // waited for, so that the digest asked for after it covers it.
  await deps.settleHistory?.();
  const [made] = await writeDigests(deps, (tenant) => tenant.id === tenantId);
  if (!made) throw new DigestTryAgainError(`tenant ${tenantId} is not in the read model yet`);
  return made;
}

/**
 * The scheduled run: a digest for every tenant whose last period ended before the latest
 * boundary of the interval (periods are aligned to the clock, so every process agrees which are
 * due, and the one that gets the lock first makes them).
 */
export async function writeDueDigests(deps: DigestDeps): Promise<StoredDigest[]> {
  const intervalMs = deps.auditDigests.intervalMinutes * 60_000;
  return writeDigests(deps, (tenant, last, now) => {
    const boundary = Math.floor(now.getTime() / intervalMs) * intervalMs;
    // A new tenant's first period ends at the first boundary after it was created.
    return (last?.periodEnd ?? tenant.createdAt).getTime() < boundary;
  });
}

type Due = (tenant: { id: string; createdAt: Date }, last: StoredDigest | undefined, now: Date) => boolean;

async function writeDigests(deps: DigestDeps, due: Due): Promise<StoredDigest[]> {
  const timeoutMs = deps.auditDigests.lockTimeoutMs ?? LOCK_TIMEOUT_MS;
  try {
    return await writeDigestsLocked(deps, due, timeoutMs);
  } catch (error) {
    if (error instanceof LockTimeoutError) throw new DigestTryAgainError(`another process has been writing digests for over ${timeoutMs} ms`);
    throw error;
  }
}

async function writeDigestsLocked(deps: DigestDeps, due: Due, timeoutMs: number): Promise<StoredDigest[]> {
  return deps.db.withLock(
    LOCK,
    async () => {
      const settings = deps.auditDigests;
      const last = await lastDigests(deps.db);
      // A crash after a digest was stored and before its file was written: the file is written now.
      if (settings.dir !== null) for (const digest of last.values()) await writeDigestFile(settings.dir, digest, true);
      const now = settings.clock();
      const tenants = (await tenantsCreated(deps.db)).filter((tenant) => due(tenant, last.get(tenant.id), now));
      if (tenants.length === 0) return [];
      const key = await settings.signer.current();
      const head = await deps.store.headPosition();
      const periods = await readPeriods(deps.store, tenants, last, head, await creations(deps.store, tenants, last));
      const made: StoredDigest[] = [];
      for (const tenant of tenants) {
        const previous = last.get(tenant.id);
        const period = periods.get(tenant.id)!;
        // Periods follow each other even if the clock stepped back, and end inside the key's window
        // (its start is the database's clock, which may run ahead of this process's).
        const periodEnd = new Date(Math.max(now.getTime(), (previous?.periodEnd.getTime() ?? Number.NEGATIVE_INFINITY) + 1, key.createdAt.getTime()));
        const periodStart = previous?.periodEnd ?? (tenant.createdAt.getTime() < periodEnd.getTime() ? tenant.createdAt : periodEnd);
        const payload = payloadText({
          tenantId: tenant.id,
          periodStart: periodStart.toISOString(),
          periodEnd: periodEnd.toISOString(),
          eventCount: period.eventCount,
          logPosition: head,
          previousDigestHash: previous ? digestHash(previous.payload) : GENESIS_DIGEST_HASH,
          streams: [...period.heads].map(([stream, head]) => ({ stream, ...head })),
        });
        const digest: StoredDigest = {
          tenantId: tenant.id,
          seq: (previous?.seq ?? 0) + 1,
          periodStart,
          periodEnd,
          logPosition: head,
          ...signDigest(payload, key.privateKey, key.keyId),
        };
        await insertDigest(deps.db, digest);
        made.push(digest);
      }
      if (settings.dir !== null) for (const digest of made) await writeDigestFile(settings.dir, digest, false);
      return made;
    },
    { timeoutMs },
  );
}

async function tenantsCreated(db: SqlExecutor): Promise<{ id: string; createdAt: Date }[]> {
  const rows = await db.query<{ id: string; created_at: Date | string }>('SELECT id, created_at FROM tenants ORDER BY id');
  return rows.map((row) => ({ id: row.id, createdAt: new Date(row.created_at) }));
}

interface Period {
  eventCount: number;
  heads: Map<string, Omit<SignedHead, 'stream'>>;
}

/**
 * Where each tenant without a digest starts: its creation event (the first of its tenant stream),
 * so that a new tenant's first digest reads the log from there, not from the start of the log.
 */
async function creations(store: EventStore, tenants: { id: string }[], last: Map<string, StoredDigest>): Promise<Map<string, RecordedEvent>> {
  const found = new Map<string, RecordedEvent>();
  for (const tenant of tenants) {
    if (last.has(tenant.id)) continue;
    const [created] = await store.readStream(tenantStream(tenant.id), { maxCount: 1 });
    if (created) found.set(tenant.id, created);
  }
  return found;
}

/**
 * Each tenant's events after its last digest's position (or from its creation event) up to
 * `head`, counted, with the last revision and hash of every stream they touched. One walk of the
 * log, from the earliest of those places, serves every tenant.
 */
async function readPeriods(
  store: EventStore,
  tenants: { id: string }[],
  last: Map<string, StoredDigest>,
  head: Position | null,
  created: Map<string, RecordedEvent>,
): Promise<Map<string, Period>> {
  const periods = new Map(tenants.map((tenant) => [tenant.id, { eventCount: 0, heads: new Map() } as Period]));
  if (head === null) return periods;
  const count = (period: Period, event: RecordedEvent) => {
    period.eventCount++;
    period.heads.set(event.stream, { revision: Number(event.revision), hash: event.hash });
  };
  const since = new Map<string, Position | null>();
  for (const tenant of tenants) {
    const creation = created.get(tenant.id);
    // The creation event is the tenant's first; reading after it, it is counted here.
    if (creation && creation.metadata.tenantId === tenant.id && store.comparePositions(creation.position, head) <= 0) count(periods.get(tenant.id)!, creation);
    since.set(tenant.id, last.get(tenant.id)?.logPosition ?? creation?.position ?? null);
  }
  let from: Position | 'start' = 'start';
  if (![...since.values()].includes(null)) {
    from = [...since.values()].reduce((a, b) => (store.comparePositions(a!, b!) <= 0 ? a : b))!;
  }
  if (from !== 'start' && store.comparePositions(from, head) >= 0) return periods;
  for (;;) {
    const page = await store.readAll({ fromPosition: from, maxCount: PAGE });
    for (const event of page) {
      if (store.comparePositions(event.position, head) > 0) return periods;
      const tenantId = event.metadata.tenantId;
      const period = typeof tenantId === 'string' ? periods.get(tenantId) : undefined;
      if (!period) continue;
      const after = since.get(tenantId as string);
      if (after && store.comparePositions(event.position, after) <= 0) continue;
      count(period, event);
    }
    if (page.length < PAGE) return periods;
    from = page[page.length - 1].position;
  }
}

/** A tenant id as a folder name: ids are uuids or plain names, anything else is escaped. */
export function digestFolder(tenantId: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(tenantId) ? tenantId : encodeURIComponent(tenantId).replace(/\./g, '%2E');
}

export function digestFilePath(dir: string, digest: { tenantId: string; periodEnd: Date }): string {
  return join(dir, digestFolder(digest.tenantId), `${digest.periodEnd.toISOString()}.json`);
}

async function writeDigestFile(dir: string, digest: StoredDigest, onlyIfMissing: boolean): Promise<void> {
  const path = digestFilePath(dir, digest);
  if (onlyIfMissing) {
    const there = await stat(path).then(
      () => true,
      () => false,
    );
    if (there) return;
  }
  const line: SignedDigest = { payload: digest.payload, signature: digest.signature, keyId: digest.keyId };
  await writeDurably(path, `${JSON.stringify(line)}\n`);
}

/**
 * The tenant's digests in chain order whose period overlaps [from, to) (ends after `from`,
 * starts before `to`); all of them without a range.
 */
export async function listDigests(deps: { db: SqlExecutor }, tenantId: string, range: { from?: Date; to?: Date } = {}): Promise<SignedDigest[]> {
  const digests = await tenantDigests(deps.db, tenantId, range);
  return digests.map((digest) => ({ payload: digest.payload, signature: digest.signature, keyId: digest.keyId }));
}

export interface SigningKeysDocument {
  keys: { keyId: string; algorithm: 'Ed25519'; publicKeyPem: string; createdAt: string; retiredAt: string | null }[];
}

/** The public keys that ever signed digests, oldest first: /.well-known/backplane-audit-keys.json and a bundle's keys.json. */
export async function signingKeysDocument(deps: { db: SqlExecutor }): Promise<SigningKeysDocument> {
  const keys = await signingKeys(deps.db);
  return {
    keys: keys.map((key) => ({
      keyId: key.keyId,
      algorithm: 'Ed25519',
      publicKeyPem: key.publicKeyPem,
      createdAt: key.createdAt.toISOString(),
      retiredAt: key.retiredAt?.toISOString() ?? null,
    })),
  };
}

export class UnknownDigestCursorError extends Error {}

/** A page of the tenant's digests in chain order; the cursor is a digest's place in the chain. */
export async function auditDigestPage(
  db: SqlExecutor,
  tenantId: string,
  page: { first: number; after?: string },
): Promise<{ digests: StoredDigest[]; hasNextPage: boolean }> {
  let afterSeq: number | undefined;
  if (page.after !== undefined) {
    if (!/^[0-9]{1,9}$/.test(page.after)) throw new UnknownDigestCursorError('after is not a cursor of auditDigests');
    afterSeq = Number(page.after);
  }
  const digests = await tenantDigests(db, tenantId, { afterSeq, limit: page.first + 1 });
  return { digests: digests.slice(0, page.first), hasNextPage: digests.length > page.first };
}
