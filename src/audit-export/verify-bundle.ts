import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readTarGz } from './tar-reader';

/**
 * The offline check of an export bundle, written from VERIFY.md alone: it shares no code with the
 * server's hashing, so a rule the procedure leaves out, or states wrongly, makes this fail too.
 */

export interface BundleVerification {
  ok: boolean;
  events: number;
  streams: number;
  digests: number;
  headsChecked: number;
  /** Events after the newest digest's logPosition: no signature covers them (VERIFY.md, step 6). */
  unsigned: number;
  /** export.json asks for the whole history unfiltered, so step 6 (nothing missing) was checked. */
  full: boolean;
  /** export.json's kind (derived from its other fields for a bundle made before kinds were named); null when unread. */
  kind: ExportKind | null;
  /**
   * For an export of digest periods: the first and last digest's sequence numbers as export.json
   * claims them (unsigned), and whether the chain was checked from anchor.json (fromDigest after 1)
   * rather than from the tenant's first digest; step 6 was checked.
   */
  digestPeriods: { fromDigest: number; toDigest: number; anchored: boolean } | null;
  /** The first thing found wrong, naming the event or digest; null when the bundle is intact. */
  problem: string | null;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const ZEROS = '0'.repeat(64);

/** VERIFY.md, "Canonical JSON". */
function canonical(value: Json): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  return `{${Object.keys(value)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`)
    .join(',')}}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex');
}

class Tampered extends Error {}

interface SignedHead {
  hash: string;
  /** The digest that signs it, as a message names it. */
  digest: string;
}

/** A digest as step 6 needs it: where its period ends in the log, what it counts and the heads it signs. */
interface Period {
  /** How a message names it: its sequence number and line. */
  name: string;
  periodStart: string;
  periodEnd: string;
  end: bigint[] | null;
  eventCount: number;
  heads: Map<string, number>;
  /** What events.jsonl gives it. */
  found: { count: number; heads: Map<string, number> };
}

type Manifest = { [key: string]: Json };

export type ExportKind = 'digest-periods' | 'full' | 'time-bounded' | 'filtered';
const KINDS: readonly string[] = ['digest-periods', 'full', 'time-bounded', 'filtered'];

/** What export.json says the bundle is, as the steps need it (VERIFY.md, "Files"). */
interface Scope {
  kind: ExportKind;
  /** Only time or digest periods narrowed it: streams have no gap (step 2). */
  complete: boolean;
  /** It starts at the tenant's first digest, and every stream at revision 0 (steps 2 and 4). */
  fromStart: boolean;
  /** Step 6 applies: whole periods, counted. */
  wholePeriods: boolean;
  /** The sequence number of digests.jsonl's first digest. */
  firstDigest: number;
  /** An export of digest periods: how many digests digests.jsonl must hold. */
  digestCount: number | null;
  /** anchor.json must hold digest firstDigest - 1, the first one's predecessor (an export of digest periods after the tenant's first). */
  anchored: boolean;
}

/** anchor.json as the steps need it: the digest before the first, checked, and where its period ends. */
interface Anchor {
  name: string;
  text: string;
  periodEnd: Json | undefined;
  end: bigint[] | null;
}

/** Lines of a streamed file, each with its number from 1. */
async function* lines(body: AsyncIterable<Buffer>): AsyncGenerator<{ text: string; number: number }> {
  let rest = '';
  let number = 0;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for await (const chunk of body) {
    rest += decoder.decode(chunk, { stream: true });
    let newline = rest.indexOf('\n');
    while (newline !== -1) {
      number += 1;
      yield { text: rest.slice(0, newline), number };
      rest = rest.slice(newline + 1);
      newline = rest.indexOf('\n');
    }
  }
  rest += decoder.decode();
  if (rest !== '') yield { text: rest, number: number + 1 };
}

function parse(text: string, what: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    throw new Tampered(`${what} is not JSON`);
  }
}

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export async function verifyBundle(path: string): Promise<BundleVerification> {
  const result: BundleVerification = {
    ok: false,
    events: 0,
    streams: 0,
    digests: 0,
    headsChecked: 0,
    unsigned: 0,
    full: false,
    kind: null,
    digestPeriods: null,
    problem: null,
  };
  try {
    // Two passes over the archive, so that the order of its entries does not matter (a bundle
    // re-packed by hand may put events.jsonl first): the small files, then the events streamed.
    const small = await smallFiles(path);
    const manifest = readManifest(small.get('export.json'));
    const scope = scopeOf(manifest);
    result.kind = scope.kind;
    result.full = scope.kind === 'full';
    if (scope.kind === 'digest-periods') {
      result.digestPeriods = { fromDigest: scope.firstDigest, toDigest: scope.firstDigest + (scope.digestCount ?? 0) - 1, anchored: scope.anchored };
    }
    const keys = readKeys(small.get('keys.json'));
    const digestsText = small.get('digests.jsonl');
    if (digestsText === undefined) throw new Tampered('digests.jsonl is missing from the bundle');
    const heads = new Map<string, Map<number, SignedHead>>();
    const anchor = scope.anchored ? checkAnchor(small.get('anchor.json'), keys, manifest, scope) : null;
    const periods = checkDigests(digestsText, keys, manifest, scope, anchor, heads, result);
    let eventsSeen = false;
    for await (const entry of readTarGz(path)) {
      if (entry.name !== 'events.jsonl') continue;
      eventsSeen = true;
      await checkEvents(entry.body, manifest, scope, anchor, heads, periods, result);
    }
    if (!eventsSeen) throw new Tampered('events.jsonl is missing from the bundle');
    if (scope.wholePeriods) checkPeriods(periods);
    result.ok = true;
  } catch (error) {
    // An archive that does not unpack is as unusable as a tampered one; either way it is named.
    result.problem = error instanceof Tampered ? error.message : `the bundle could not be read: ${error instanceof Error ? error.message : String(error)}`;
  }
  return result;
}

const SMALL = ['export.json', 'keys.json', 'digests.jsonl', 'anchor.json'];

/** The bundle's files other than events.jsonl, each exactly once. */
async function smallFiles(path: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const seen = new Set<string>();
  for await (const entry of readTarGz(path)) {
    // tar keeps the last of two entries of one name: a second copy could hide what the first shows.
    if (seen.has(entry.name)) throw new Tampered(`the bundle holds ${entry.name} twice`);
    seen.add(entry.name);
    if (!SMALL.includes(entry.name)) continue;
    const chunks: Buffer[] = [];
    for await (const chunk of entry.body) chunks.push(chunk);
    files.set(entry.name, Buffer.concat(chunks).toString('utf8'));
  }
  return files;
}

function readManifest(text: string | undefined): Manifest {
  if (text === undefined) throw new Tampered('export.json is missing from the bundle: what the export covers is unknown');
  const manifest = parse(text, 'export.json');
  if (!isObject(manifest)) throw new Tampered('export.json is not a JSON object');
  if (typeof manifest.tenantId !== 'string' || typeof manifest.complete !== 'boolean') throw new Tampered('export.json lacks tenantId or complete');
  for (const bound of ['from', 'to'] as const) {
    if (manifest[bound] !== null && typeof manifest[bound] !== 'string') throw new Tampered(`export.json: ${bound} is neither null nor an instant`);
  }
  if (manifest.kind !== undefined && (typeof manifest.kind !== 'string' || !KINDS.includes(manifest.kind))) {
    throw new Tampered(`export.json: kind is none of ${KINDS.join(', ')}`);
  }
  return manifest;
}

/** VERIFY.md, "Files": the kind of export, and what each step then expects of it. */
function scopeOf(manifest: Manifest): Scope {
  const complete = manifest.complete === true;
  const timeBounded = manifest.from !== null || manifest.to !== null;
  // A bundle made before digest periods has neither field: absent is null.
  const fromSet = manifest.fromDigest !== undefined && manifest.fromDigest !== null;
  const toSet = manifest.toDigest !== undefined && manifest.toDigest !== null;
  if (fromSet !== toSet) {
    const kind = manifest.kind === undefined ? '' : ` kind ${String(manifest.kind)} does not match its other fields:`;
    const [set, unset] = fromSet ? ['fromDigest', 'toDigest'] : ['toDigest', 'fromDigest'];
    throw new Tampered(`export.json:${kind} ${set} is set and ${unset} is null, which no kind of export has`);
  }
  const kind: ExportKind = fromSet ? 'digest-periods' : !complete ? 'filtered' : timeBounded ? 'time-bounded' : 'full';
  // A bundle made before export.json named its kind says it by its other fields alone.
  if (manifest.kind !== undefined && manifest.kind !== kind) throw new Tampered(`export.json: kind ${String(manifest.kind)} does not match its other fields`);
  const scope: Scope = {
    kind,
    complete,
    fromStart: complete && manifest.from === null,
    wholePeriods: kind === 'full',
    firstDigest: 1,
    digestCount: null,
    anchored: false,
  };
  if (kind !== 'digest-periods') return scope;
  const { fromDigest, toDigest } = manifest;
  if (!Number.isSafeInteger(fromDigest) || !Number.isSafeInteger(toDigest) || (fromDigest as number) < 1 || (toDigest as number) < (fromDigest as number)) {
    throw new Tampered('export.json: an export of digest periods needs fromDigest and toDigest, whole numbers from 1, fromDigest not after toDigest');
  }
  if (!complete || timeBounded) throw new Tampered('export.json: an export of digest periods is neither filtered nor bounded by time');
  const first = fromDigest as number;
  return {
    kind,
    complete,
    fromStart: first === 1,
    wholePeriods: true,
    firstDigest: first,
    digestCount: (toDigest as number) - first + 1,
    anchored: first > 1,
  };
}

interface Key {
  key: KeyObject;
  createdAt: number;
  retiredAt: number | null;
}

function readKeys(text: string | undefined): Map<string, Key> {
  if (text === undefined) throw new Tampered('keys.json is missing from the bundle: the digests cannot be checked');
  const document = parse(text, 'keys.json');
  if (!isObject(document) || !Array.isArray(document.keys)) throw new Tampered('keys.json has no "keys" list');
  const keys = new Map<string, Key>();
  for (const key of document.keys) {
    if (!isObject(key) || typeof key.keyId !== 'string' || typeof key.publicKeyPem !== 'string')
      throw new Tampered('keys.json holds a key without keyId or publicKeyPem');
    if (key.algorithm !== 'Ed25519') throw new Tampered(`keys.json: key ${key.keyId} is not an Ed25519 key`);
    const createdAt = typeof key.createdAt === 'string' ? Date.parse(key.createdAt) : Number.NaN;
    const retiredAt = key.retiredAt === null ? null : typeof key.retiredAt === 'string' ? Date.parse(key.retiredAt) : Number.NaN;
    if (Number.isNaN(createdAt) || Number.isNaN(retiredAt)) throw new Tampered(`keys.json: key ${key.keyId} lacks createdAt or retiredAt`);
    try {
      keys.set(key.keyId, { key: createPublicKey(key.publicKeyPem), createdAt, retiredAt });
    } catch {
      throw new Tampered(`keys.json: key ${key.keyId} is not a readable public key`);
    }
  }
  return keys;
}

/** VERIFY.md's positions: two decimal integers, "<a>-<b>" (PostgreSQL) or "C<a>/P<b>" (EventStoreDB). */
function position(value: Json | undefined): bigint[] | null {
  const match = typeof value === 'string' ? /^(?:(\d+)-(\d+)|C(\d+)\/P(\d+))$/.exec(value) : null;
  if (!match) return null;
  return match[1] !== undefined ? [BigInt(match[1]), BigInt(match[2])] : [BigInt(match[3]), BigInt(match[4])];
}

function compare(a: bigint[], b: bigint[]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return 0;
}

/** VERIFY.md step 3 for one digest line (of digests.jsonl, or anchor.json): its signature, its key's validity and its tenant; gives its payload. */
function signedPayload(text: string, where: string, keys: Map<string, Key>, manifest: Manifest): { payload: { [key: string]: Json }; text: string } {
  const line = parse(text, where);
  if (!isObject(line) || typeof line.payload !== 'string' || typeof line.signature !== 'string' || typeof line.keyId !== 'string') {
    throw new Tampered(`${where} lacks payload, signature or keyId`);
  }
  const key = keys.get(line.keyId);
  if (!key) throw new Tampered(`${where} is signed with key ${line.keyId}, which keys.json does not hold`);
  if (!verify(null, Buffer.from(line.payload, 'utf8'), key.key, Buffer.from(line.signature, 'base64'))) {
    throw new Tampered(`${where}: the signature does not verify with key ${line.keyId}: the digest or its signature was altered`);
  }
  const payload = parse(line.payload, `${where}'s payload`);
  if (!isObject(payload)) throw new Tampered(`${where}'s payload is not a JSON object`);
  const periodEnd = typeof payload.periodEnd === 'string' ? Date.parse(payload.periodEnd) : Number.NaN;
  if (Number.isNaN(periodEnd) || periodEnd < key.createdAt || (key.retiredAt !== null && periodEnd > key.retiredAt)) {
    throw new Tampered(`${where}: its periodEnd lies outside the validity of key ${line.keyId} (its createdAt to its retiredAt in keys.json)`);
  }
  if (payload.tenantId !== manifest.tenantId) throw new Tampered(`${where} belongs to another tenant`);
  if (payload.logPosition !== null && position(payload.logPosition) === null) throw new Tampered(`${where}'s logPosition is not a position`);
  return { payload, text: line.payload };
}

/** VERIFY.md step 4, "The anchor": digest firstDigest - 1, signed, of the tenant; where the first period starts. */
function checkAnchor(text: string | undefined, keys: Map<string, Key>, manifest: Manifest, scope: Scope): Anchor {
  const name = `the anchor, digest ${scope.firstDigest - 1} (anchor.json)`;
  if (text === undefined) {
    throw new Tampered(
      `anchor.json is missing from the bundle: an export of digest periods from digest ${scope.firstDigest} carries digest ${scope.firstDigest - 1} as the anchor of its first period`,
    );
  }
  const { payload, text: signed } = signedPayload(text.trimEnd(), name, keys, manifest);
  return { name, text: signed, periodEnd: payload.periodEnd, end: payload.logPosition === null ? null : position(payload.logPosition) };
}

/** VERIFY.md steps 3 and 4; collects the signed heads for step 5 and the periods for step 6. */
function checkDigests(
  text: string,
  keys: Map<string, Key>,
  manifest: Manifest,
  scope: Scope,
  anchor: Anchor | null,
  heads: Map<string, Map<number, SignedHead>>,
  result: BundleVerification,
): Period[] {
  const periods: Period[] = [];
  // The first digest's predecessor: the anchor when the bundle has one.
  let previous = anchor as { name: string; text: string; periodEnd: Json | undefined; end: bigint[] | null } | null;
  const startsChain = scope.kind === 'digest-periods' ? scope.firstDigest === 1 : manifest.from === null;
  const digestLines = text.split('\n').map((line, index) => ({ text: line, number: index + 1 }));
  for (const { text, number } of digestLines) {
    if (text === '') continue;
    // Its sequence number is known when the chain is anchored at the tenant's first digest, or export.json gives it.
    const where =
      startsChain || scope.kind === 'digest-periods'
        ? `digest ${scope.firstDigest + result.digests} (line ${number} of digests.jsonl)`
        : `the digest on line ${number} of digests.jsonl`;
    const { payload, text: signed } = signedPayload(text, where, keys, manifest);
    if (result.digests === 0 && startsChain && payload.previousDigestHash !== ZEROS) {
      throw new Tampered(
        `${where}: the export starts at the beginning of the history, so its first digest must name 64 zeros as previousDigestHash: digests were removed from the start`,
      );
    }
    if (result.digests === 0 && anchor !== null && payload.previousDigestHash === ZEROS) {
      throw new Tampered(
        `${where}: it names 64 zeros as previousDigestHash, as only the tenant's first digest does, while export.json says the export starts at digest ${scope.firstDigest}`,
      );
    }
    if (previous !== null && payload.previousDigestHash !== sha256(previous.text)) {
      throw new Tampered(
        `${where}: previousDigestHash is not the SHA-256 of the payload of ${previous.name}, the digest before it: a digest is missing or out of order`,
      );
    }
    if (previous !== null && payload.periodStart !== previous.periodEnd) {
      throw new Tampered(`${where}: its periodStart is not the periodEnd of ${previous.name}: a digest is missing or out of order`);
    }
    const end = payload.logPosition === null ? null : position(payload.logPosition);
    if (!Number.isSafeInteger(payload.eventCount)) throw new Tampered(`${where}'s eventCount is not a number`);
    const reached: bigint[] | null = end ?? previous?.end ?? null;
    if (end !== null && previous?.end && compare(end, previous.end) < 0) throw new Tampered(`${where}'s logPosition lies before that of ${previous.name}`);
    const period: Period = {
      name: where,
      periodStart: String(payload.periodStart),
      periodEnd: String(payload.periodEnd),
      end,
      eventCount: payload.eventCount as number,
      heads: new Map(),
      found: { count: 0, heads: new Map() },
    };
    for (const head of Array.isArray(payload.streams) ? payload.streams : []) {
      if (!isObject(head) || typeof head.stream !== 'string' || typeof head.hash !== 'string' || !Number.isSafeInteger(head.revision))
        throw new Tampered(`${where} holds a stream head without stream, revision or hash`);
      const revision = head.revision as number;
      period.heads.set(head.stream, revision);
      remember(heads, head.stream, revision, { hash: head.hash, digest: where });
    }
    periods.push(period);
    previous = { name: where, text: signed, periodEnd: payload.periodEnd, end: reached };
    result.digests += 1;
  }
  if (periods.length === 0) throw new Tampered('digests.jsonl holds no digest: nothing in the bundle is signed');
  if (scope.digestCount !== null && periods.length !== scope.digestCount) {
    throw new Tampered(
      `export.json names digests ${scope.firstDigest} to ${scope.firstDigest + scope.digestCount - 1}, digests.jsonl holds ${periods.length}: digests were removed or added`,
    );
  }
  return periods;
}

function checkHead(stream: string, revision: number, hash: string, head: SignedHead, result: BundleVerification): void {
  result.headsChecked += 1;
  if (hash !== head.hash) {
    throw new Tampered(
      `stream ${stream} revision ${revision}: its hash differs from the head signed in ${head.digest}: the stream was rewritten after the digest was signed`,
    );
  }
}

/** VERIFY.md steps 1, 2 and 5, one line at a time; gives each event to its digest's period for step 6. */
async function checkEvents(
  body: AsyncIterable<Buffer>,
  manifest: Manifest,
  scope: Scope,
  anchor: Anchor | null,
  heads: Map<string, Map<number, SignedHead>>,
  periods: Period[],
  result: BundleVerification,
): Promise<void> {
  const { complete, fromStart } = scope;
  const last = new Map<string, { revision: number; hash: string; period: number }>();
  const gaps = new Map<string, { revision: number; jumped: number; after: string; where: string; within: string }>();
  let before: bigint[] | null = null;
  let period = 0;
  for await (const { text, number } of lines(body)) {
    if (text === '') continue;
    const event = parse(text, `line ${number} of events.jsonl`);
    if (!isObject(event) || typeof event.id !== 'string' || typeof event.type !== 'string' || typeof event.stream !== 'string') {
      throw new Tampered(`line ${number} of events.jsonl is not an event`);
    }
    const { id, type, stream, data, metadata, previousHash, hash } = event;
    const revision = event.revision;
    const where = `event ${id} (stream ${stream} revision ${String(revision)}, line ${number} of events.jsonl)`;
    if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) throw new Tampered(`${where} has no revision`);
    if (typeof previousHash !== 'string' || typeof hash !== 'string' || data === undefined || metadata === undefined)
      throw new Tampered(`${where} lacks a field`);
    const at = position(event.position);
    if (at === null) throw new Tampered(`${where} has no position`);
    if (anchor?.end && compare(at, anchor.end) <= 0) {
      throw new Tampered(
        `${where}: its position is at or before the logPosition of ${anchor.name}, and the export's first period starts after it: the event comes from before the export's periods`,
      );
    }
    // Periods follow the log, as the events do: the event's period is the first that ends at or after it.
    while (period < periods.length && (periods[period].end === null || compare(at, periods[period].end as bigint[]) > 0)) period += 1;
    const content = sha256(canonical({ data, id, metadata, type }));
    if (sha256(`${previousHash}|${stream}|${revision}|${content}`) !== hash) {
      throw new Tampered(`${where}: its hash does not recompute: the event was altered`);
    }
    if (!isObject(metadata) || metadata.tenantId !== manifest.tenantId) {
      throw new Tampered(`${where}: its metadata.tenantId is not the tenant of the export and its digests: the event is another tenant's`);
    }
    const earlier = last.get(stream);
    const gap = gaps.get(stream);
    if (revision === 0 && previousHash !== ZEROS) throw new Tampered(`${where}: the first event of a stream must follow 64 zeros`);
    if (gap && revision === gap.revision) throw new Tampered(`${where}: it comes after revision ${gap.jumped} of its stream: events were reordered`);
    if (gap) throw new Tampered(`${gap.where}: ${gap.after} is missing before it: an event was removed ${gap.within}`);
    if (earlier) {
      if (revision <= earlier.revision) throw new Tampered(`${where}: it comes after revision ${earlier.revision} of its stream: events are out of order`);
      if (revision !== earlier.revision + 1 && complete) {
        // Removed, or moved further down the file: the next event of the stream tells which.
        const after = `revision ${earlier.revision + 1} of its stream`;
        gaps.set(stream, { revision: earlier.revision + 1, jumped: revision, after, where, within: periodsBetween(periods, earlier.period, period) });
      }
      if (revision === earlier.revision + 1 && previousHash !== earlier.hash) {
        throw new Tampered(`${where}: its previousHash is not the hash of revision ${earlier.revision}: the chain is broken`);
      }
    } else if (fromStart && revision !== 0) {
      throw new Tampered(`${where}: the export starts at the beginning of the history, so its stream must start at revision 0: events were removed`);
    }
    if (before !== null && compare(at, before) <= 0) throw new Tampered(`${where}: its position does not come after the line before it: events were reordered`);
    before = at;
    last.set(stream, { revision, hash, period });
    const head = heads.get(stream)?.get(revision);
    if (head) checkHead(stream, revision, hash, head, result);
    if (period === periods.length && scope.kind === 'digest-periods') {
      throw new Tampered(
        `${where}: its position comes after the last digest's logPosition, and an export of digest periods holds no event after its last period: the event was added`,
      );
    }
    if (period < periods.length) {
      periods[period].found.count += 1;
      periods[period].found.heads.set(stream, revision);
    } else result.unsigned += 1;
    result.events += 1;
  }
  for (const gap of gaps.values()) throw new Tampered(`${gap.where}: ${gap.after} is missing before it: an event was removed ${gap.within}`);
  result.streams = last.size;
}

/** VERIFY.md step 6, for a full export: each signed period holds exactly what its digest counts and names. */
function checkPeriods(periods: Period[]): void {
  for (const { name: where, periodStart, periodEnd, eventCount, heads, found } of periods) {
    if (found.count !== eventCount) {
      throw new Tampered(
        `${where}: it signs ${eventCount} events of its period (${periodStart} to ${periodEnd}), the file holds ${found.count}: events were removed or added`,
      );
    }
    for (const [stream, revision] of heads) {
      const there = found.heads.get(stream);
      if (there !== revision) {
        throw new Tampered(
          `${where}: stream ${stream} ends at revision ${revision} in its period as signed, the file's last event of it there is ${there === undefined ? 'absent' : `revision ${there}`}: events were removed`,
        );
      }
    }
    for (const stream of found.heads.keys()) {
      if (!heads.has(stream)) throw new Tampered(`${where}: stream ${stream} has events in its period that the digest does not sign: events were added`);
    }
  }
}

/** Where an event missing between two of a stream's lines was: the period (or periods) between theirs. */
function periodsBetween(periods: Period[], from: number, to: number): string {
  const name = (index: number) =>
    index < periods.length
      ? `the period of ${periods[index].name}, ${periods[index].periodStart} to ${periods[index].periodEnd}`
      : 'the events after the newest digest';
  return from === to ? `from ${name(from)}` : `from ${name(from)} or a period after it, up to ${name(to)}`;
}

function remember<T>(map: Map<string, Map<number, T>>, stream: string, revision: number, value: T): void {
  const byRevision = map.get(stream) ?? new Map<number, T>();
  byRevision.set(revision, value);
  map.set(stream, byRevision);
}
