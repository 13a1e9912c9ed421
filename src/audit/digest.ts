import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/**
 * Signed digests of the audit log, the pure part: the payload's text, its hash, its signature and
 * the checks a verifier makes. No I/O and no clock, so that an offline verifier (and a reader of
 * this file) sees the whole rule in one place.
 */

/** What the first digest of a tenant names as its predecessor's hash. */
export const GENESIS_DIGEST_HASH = '0'.repeat(64);

export const DIGEST_ALGORITHM = 'Ed25519';

/** The head of one stream as the digest signs it: its last revision in the period and that event's chain hash. */
export interface SignedHead {
  stream: string;
  revision: number;
  hash: string;
}

export interface DigestPayload {
  tenantId: string;
  /** ISO 8601: the previous digest's periodEnd (for the first, when the tenant was created). */
  periodStart: string;
  /** ISO 8601: when the log was read up to logPosition. */
  periodEnd: string;
  /** The tenant's events after the previous digest's logPosition, up to and including this one's. */
  eventCount: number;
  /** The place in the log the digest covers, inclusive; null when the log was empty. */
  logPosition: string | null;
  /** SHA-256 (hex) of the previous digest's payload text, UTF-8; 64 zeros for the first. */
  previousDigestHash: string;
  /** Every stream of the tenant with events in the period, by name. */
  streams: SignedHead[];
}

/** A digest as stored, served and exported: the signature is over exactly the payload's UTF-8 bytes. */
export interface SignedDigest {
  payload: string;
  /** Base64 Ed25519 signature. */
  signature: string;
  keyId: string;
}

export class DigestFormatError extends Error {}

/**
 * The payload's one text: keys in the contract's order, no spaces, streams by name. It is the
 * text that is signed and hashed; verifiers take it as it is and never rebuild it.
 */
export function payloadText(payload: DigestPayload): string {
  const streams = [...payload.streams]
    .sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0))
    .map((head) => ({ stream: head.stream, revision: head.revision, hash: head.hash }));
  return JSON.stringify({
    tenantId: payload.tenantId,
    periodStart: payload.periodStart,
    periodEnd: payload.periodEnd,
    eventCount: payload.eventCount,
    logPosition: payload.logPosition,
    previousDigestHash: payload.previousDigestHash,
    streams,
  });
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Reads a payload text, refusing one that is not of the contract's shape. */
export function parsePayload(text: string): DigestPayload {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DigestFormatError('the payload is not JSON');
  }
  const p = value as Record<string, unknown>;
  const fail = (what: string) => {
    throw new DigestFormatError(`the payload's ${what} is missing or malformed`);
  };
  if (typeof p !== 'object' || p === null || Array.isArray(p)) fail('object');
  if (typeof p.tenantId !== 'string') fail('tenantId');
  for (const field of ['periodStart', 'periodEnd'] as const) {
    if (typeof p[field] !== 'string' || Number.isNaN(Date.parse(p[field] as string))) fail(field);
  }
  if (!Number.isSafeInteger(p.eventCount) || (p.eventCount as number) < 0) fail('eventCount');
  if (p.logPosition !== null && typeof p.logPosition !== 'string') fail('logPosition');
  if (typeof p.previousDigestHash !== 'string' || !HEX64.test(p.previousDigestHash)) fail('previousDigestHash');
  if (!Array.isArray(p.streams)) fail('streams');
  for (const head of p.streams as Record<string, unknown>[]) {
    if (typeof head !== 'object' || head === null || typeof head.stream !== 'string') fail('streams[].stream');
    if (!Number.isSafeInteger(head.revision) || (head.revision as number) < 0) fail('streams[].revision');
    if (typeof head.hash !== 'string' || !HEX64.test(head.hash)) fail('streams[].hash');
  }
  return p as unknown as DigestPayload;
}

/** SHA-256 (hex) of the payload text's UTF-8 bytes: what the next digest names as previousDigestHash. */
export function digestHash(payload: string): string {
  return createHash('sha256').update(payload, 'utf8').digest('hex');
}

/** A key's id: the first 16 hex digits of the SHA-256 of its raw 32-byte public key. */
export function keyIdOf(key: KeyObject | string): string {
  const publicKey = typeof key === 'string' || key.type === 'private' ? createPublicKey(key) : key;
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

/** The public key's PEM (SPKI), as served and exported. */
export function publicKeyPem(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return publicKey.export({ format: 'pem', type: 'spki' }).toString();
}

export function signDigest(payload: string, privateKey: KeyObject, keyId: string): SignedDigest {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('audit digests are signed with Ed25519 keys only');
  return { payload, signature: sign(null, Buffer.from(payload, 'utf8'), privateKey).toString('base64'), keyId };
}

/** Whether the signature is the key's over exactly the payload's UTF-8 bytes. */
export function signatureValid(digest: SignedDigest, publicKey: KeyObject | string): boolean {
  try {
    const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
    if (key.asymmetricKeyType !== 'ed25519') return false;
    return verify(null, Buffer.from(digest.payload, 'utf8'), key, Buffer.from(digest.signature, 'base64'));
  } catch {
    return false;
  }
}

export type DigestProblemKind = 'format' | 'unknown-key' | 'key-window' | 'signature' | 'chain' | 'tenant';

/**
 * A public key with the time it signed in: from when it was made to when it was retired (null:
 * still signing). A key signs only inside its window, so a key added later with its retirement
 * backdated cannot vouch for periods that ended before it existed.
 */
export interface VerifyingKey {
  publicKey: KeyObject | string;
  createdAt: Date | string;
  retiredAt: Date | string | null;
}

/** Whether a digest ending at `periodEnd` falls in the key's window, both ends included. */
export function withinKeyWindow(periodEnd: string, key: Pick<VerifyingKey, 'createdAt' | 'retiredAt'>): boolean {
  const end = Date.parse(periodEnd);
  const from = new Date(key.createdAt).getTime();
  const to = key.retiredAt === null ? Number.POSITIVE_INFINITY : new Date(key.retiredAt).getTime();
  return end >= from && end <= to;
}

function isVerifyingKey(key: KeyObject | string | VerifyingKey): key is VerifyingKey {
  return typeof key === 'object' && 'publicKey' in key;
}

export interface DigestProblem {
  kind: DigestProblemKind;
  /** The digest's place in the list checked, from 0. */
  index: number;
  /** Its periodEnd when its payload could be read. */
  periodEnd: string | null;
  message: string;
}

export interface ChainCheck {
  checked: number;
  /** The first digest that fails, in chain order; null when all pass. */
  problem: DigestProblem | null;
  /** The payloads read, in order, up to the first problem. */
  payloads: DigestPayload[];
}

/**
 * Checks a run of one tenant's digests in chain order: each one's format, its signature under the
 * key its keyId names (retired keys too; inside the key's window when the key comes with one), and that it names the hash of the one before it and
 * starts where it ended. `previousHash` is the hash the first must name: GENESIS_DIGEST_HASH for a
 * chain from the start, or undefined when the run starts mid-chain (an export of a period).
 */
export function checkDigestChain(
  digests: readonly SignedDigest[],
  keys: ReadonlyMap<string, KeyObject | string | VerifyingKey>,
  previousHash?: string,
): ChainCheck {
  const payloads: DigestPayload[] = [];
  let previous: { hash: string; payload: DigestPayload } | null = null;
  for (const [index, digest] of digests.entries()) {
    const at = (kind: DigestProblemKind, periodEnd: string | null, message: string): ChainCheck => ({
      checked: index,
      problem: { kind, index, periodEnd, message },
      payloads,
    });
    let payload: DigestPayload;
    try {
      payload = parsePayload(digest.payload);
    } catch (error) {
      return at('format', null, `digest ${index}: ${(error as Error).message}`);
    }
    const name = `the digest of ${payload.tenantId} ending ${payload.periodEnd}`;
    const key = keys.get(digest.keyId);
    if (key === undefined) return at('unknown-key', payload.periodEnd, `${name} is signed with key ${digest.keyId}, which is not among the known keys`);
    if (isVerifyingKey(key) && !withinKeyWindow(payload.periodEnd, key)) {
      const window = `${new Date(key.createdAt).toISOString()} to ${key.retiredAt === null ? 'now' : new Date(key.retiredAt).toISOString()}`;
      return at('key-window', payload.periodEnd, `${name} is signed with key ${digest.keyId}, which signed only from ${window}`);
    }
    if (!signatureValid(digest, isVerifyingKey(key) ? key.publicKey : key))
      return at('signature', payload.periodEnd, `${name}: the signature does not match the payload under key ${digest.keyId}`);
    if (previous && payload.tenantId !== previous.payload.tenantId) {
      return at('tenant', payload.periodEnd, `${name} belongs to another tenant than the digest before it (${previous.payload.tenantId})`);
    }
    const expected = previous?.hash ?? previousHash;
    if (expected !== undefined && payload.previousDigestHash !== expected) {
      return at(
        'chain',
        payload.periodEnd,
        `${name} names ${payload.previousDigestHash} as the previous digest's hash, expected ${expected}: a digest is missing, altered or out of order`,
      );
    }
    if (previous && payload.periodStart !== previous.payload.periodEnd) {
      return at('chain', payload.periodEnd, `${name} starts at ${payload.periodStart}, not where the digest before it ended (${previous.payload.periodEnd})`);
    }
    payloads.push(payload);
    previous = { hash: digestHash(digest.payload), payload };
  }
  return { checked: digests.length, problem: null, payloads };
}

export interface HeadMismatch {
  stream: string;
  revision: number;
  signedHash: string;
  /** The hash the log holds at that revision now; null when the event is gone. */
  foundHash: string | null;
}

/** The signed heads of a payload that the log no longer shows: `hashAt` answers an event's hash, or null when it is missing. */
export function headMismatches(payload: DigestPayload, hashAt: (stream: string, revision: number) => string | null): HeadMismatch[] {
  const mismatches: HeadMismatch[] = [];
  for (const head of payload.streams) {
    const found = hashAt(head.stream, head.revision);
    if (found !== head.hash) mismatches.push({ stream: head.stream, revision: head.revision, signedHash: head.hash, foundHash: found });
  }
  return mismatches;
}
