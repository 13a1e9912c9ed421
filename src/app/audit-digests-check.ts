import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkDigestChain, GENESIS_DIGEST_HASH, parsePayload } from '../audit/digest';
import { tenantDigests, type StoredDigest } from '../audit/digest-table';
import { keyNotOutside } from '../audit/key-history';
import { signingKeys } from '../audit/signing-keys';
import type { EventStore, Position } from '../eventstore/types';
import type { SqlExecutor } from '../sql/database';
import { digestFolder } from './audit-digests';

export interface DigestCheck {
  digestsChecked: number;
  /** The periodEnd of the first digest that fails, or that the log no longer matches. */
  firstBrokenDigest: string | null;
  /** The event that is not what a digest signed, when it is still in the log. */
  brokenCursor: Position | null;
  problem: string | null;
}

interface Signed {
  revision: number;
  hash: string;
  seq: number;
  periodEnd: string;
}

/**
 * Checks every stored digest of the tenant: that the database's keys are the ones kept outside
 * it, each digest's signature under the key it names (retired keys included) and inside that key's
 * window, the chain of digests from the first, and that each signed stream head is still in the log. The last finds what the hash chain alone cannot: a stream rewritten with its chain
 * recomputed no longer shows the hash a digest signed before the rewrite.
 */
export async function checkTenantDigests(
  deps: { db: SqlExecutor; store: EventStore; auditDigests: { dir: string | null; keyFiles: readonly string[] } },
  tenantId: string,
): Promise<DigestCheck> {
  const digests = await tenantDigests(deps.db, tenantId);
  if (deps.auditDigests.dir !== null) {
    const outside = await compareWithFiles(join(deps.auditDigests.dir, digestFolder(tenantId)), digests);
    if (outside) return outside;
  }
  const table = await signingKeys(deps.db);
  // A key in the table that no history file holds was put there by someone with rights on the
  // database, who could then re-sign every digest with it.
  const foreign = await keyNotOutside(deps.auditDigests.keyFiles, table);
  if (foreign) {
    const signed = digests.find((digest) => digest.keyId === foreign.keyId);
    return { digestsChecked: 0, firstBrokenDigest: signed?.periodEnd.toISOString() ?? null, brokenCursor: null, problem: foreign.message };
  }
  const keys = new Map(table.map((key) => [key.keyId, { publicKey: key.publicKeyPem, createdAt: key.createdAt, retiredAt: key.retiredAt }]));
  const chain = checkDigestChain(digests, keys, GENESIS_DIGEST_HASH);
  if (chain.problem) {
    return { digestsChecked: chain.checked, firstBrokenDigest: chain.problem.periodEnd, brokenCursor: null, problem: chain.problem.message };
  }
  for (const [index, digest] of digests.entries()) {
    // The stored row says whose digest it is; the signed payload must say the same, in place.
    const payload = chain.payloads[index];
    if (payload.tenantId !== tenantId || digest.seq !== index + 1) {
      return {
        digestsChecked: index,
        firstBrokenDigest: payload.periodEnd,
        brokenCursor: null,
        problem: `the digest ending ${payload.periodEnd} is not the tenant's digest number ${index + 1}: a digest was removed or moved`,
      };
    }
  }

  const byStream = new Map<string, Signed[]>();
  for (const [index, digest] of digests.entries()) {
    for (const head of parsePayload(digest.payload).streams) {
      const signed = byStream.get(head.stream) ?? [];
      signed.push({ revision: head.revision, hash: head.hash, seq: digest.seq, periodEnd: chain.payloads[index].periodEnd });
      byStream.set(head.stream, signed);
    }
  }
  let first: { signed: Signed; stream: string; found: { hash: string; position: Position } | null; lastGood: number | null } | null = null;
  for (const [stream, heads] of byStream) {
    heads.sort((a, b) => a.revision - b.revision);
    // A rewrite changes every hash after it in its stream: when the latest signed head still
    // holds, so do the earlier ones.
    const top = heads[heads.length - 1];
    if ((await eventAt(deps.store, stream, top.revision))?.hash === top.hash) continue;
    let lastGood: number | null = null;
    for (const signed of heads) {
      const found = await eventAt(deps.store, stream, signed.revision);
      if (found?.hash === signed.hash) {
        lastGood = signed.revision;
        continue;
      }
      if (!first || signed.seq < first.signed.seq || (signed.seq === first.signed.seq && stream < first.stream)) first = { signed, stream, found, lastGood };
      break;
    }
  }
  if (!first) return { digestsChecked: digests.length, firstBrokenDigest: null, brokenCursor: null, problem: null };
  const { signed, stream, found, lastGood } = first;
  const since = lastGood === null ? 'from its first revision' : `after revision ${lastGood}`;
  const what = found
    ? `revision ${signed.revision} of stream ${stream} does not have the hash the digest ending ${signed.periodEnd} signed: the stream was rewritten ${since} up to revision ${signed.revision}, after that digest was signed`
    : `revision ${signed.revision} of stream ${stream}, signed by the digest ending ${signed.periodEnd}, is no longer in the log`;
  return { digestsChecked: digests.length, firstBrokenDigest: signed.periodEnd, brokenCursor: found?.position ?? null, problem: what };
}

async function eventAt(store: EventStore, stream: string, revision: number): Promise<{ hash: string; position: Position } | null> {
  const [event] = await store.readStream(stream, { fromRevision: BigInt(revision), maxCount: 1 });
  return event && event.revision === BigInt(revision) ? { hash: event.hash, position: event.position } : null;
}

/**
 * The files written outside the database are the copies its owner cannot rewrite: a digest that
 * is there but missing or different in the database was removed or changed there (the last ones
 * of a chain too, which the chain alone cannot show).
 */
async function compareWithFiles(folder: string, digests: StoredDigest[]): Promise<DigestCheck | null> {
  let names: string[];
  try {
    names = (await readdir(folder)).filter((name) => name.endsWith('.json') && !name.startsWith('.')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const stored = new Map(digests.map((digest) => [`${digest.periodEnd.toISOString()}.json`, digest]));
  for (const name of names) {
    const periodEnd = name.slice(0, -'.json'.length);
    const digest = stored.get(name);
    let file: { payload?: unknown; signature?: unknown; keyId?: unknown } | null = null;
    try {
      file = JSON.parse(await readFile(join(folder, name), 'utf8'));
    } catch {
      // Unreadable: it vouches for nothing, and the database's copy is checked on its own.
      continue;
    }
    const problem = !digest
      ? `the digest ending ${periodEnd} is in ${folder} but not in the database: it was removed there`
      : file?.payload !== digest.payload || file?.signature !== digest.signature || file?.keyId !== digest.keyId
        ? `the digest ending ${periodEnd} in the database differs from its file in ${folder}`
        : null;
    if (problem) return { digestsChecked: 0, firstBrokenDigest: periodEnd, brokenCursor: null, problem };
  }
  return null;
}
