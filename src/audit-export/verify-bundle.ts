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
  digestLine: number;
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
  const result: BundleVerification = { ok: false, events: 0, streams: 0, digests: 0, headsChecked: 0, problem: null };
  const keys = new Map<string, KeyObject>();
  let manifest: { [key: string]: Json } | null = null;
  let digestsSeen = false;
  let eventsSeen = false;
  // stream -> revision -> signed head, from the digests; checked as the events stream past.
  const heads = new Map<string, Map<number, SignedHead>>();
  // The same the other way round, when events.jsonl comes first in the archive.
  const eventHashes = new Map<string, Map<number, string>>();
  let pendingDigests: { text: string; number: number }[] = [];
  try {
    for await (const entry of readTarGz(path)) {
      if (entry.name === 'keys.json' || entry.name === 'export.json') {
        const chunks: Buffer[] = [];
        for await (const chunk of entry.body) chunks.push(chunk);
        const document = parse(Buffer.concat(chunks).toString('utf8'), entry.name);
        if (!isObject(document)) throw new Tampered(`${entry.name} is not a JSON object`);
        if (entry.name === 'export.json') manifest = document;
        else readKeys(document, keys);
        if (pendingDigests.length > 0 && keys.size > 0) {
          checkDigests(pendingDigests, keys, manifest, heads, eventHashes, result);
          pendingDigests = [];
        }
      } else if (entry.name === 'digests.jsonl') {
        digestsSeen = true;
        const all: { text: string; number: number }[] = [];
        for await (const line of lines(entry.body)) all.push(line);
        if (keys.size > 0 || all.length === 0) checkDigests(all, keys, manifest, heads, eventHashes, result);
        else pendingDigests = all;
      } else if (entry.name === 'events.jsonl') {
        eventsSeen = true;
        await checkEvents(entry.body, manifest, heads, digestsSeen ? null : eventHashes, result);
      }
    }
    if (!eventsSeen) throw new Tampered('events.jsonl is missing from the bundle');
    if (!digestsSeen) throw new Tampered('digests.jsonl is missing from the bundle');
    if (pendingDigests.length > 0) throw new Tampered('keys.json is missing from the bundle: the digests cannot be checked');
    result.ok = true;
  } catch (error) {
    // An archive that does not unpack is as unusable as a tampered one; either way it is named.
    result.problem = error instanceof Tampered ? error.message : `the bundle could not be read: ${error instanceof Error ? error.message : String(error)}`;
  }
  return result;
}

function readKeys(document: { [key: string]: Json }, keys: Map<string, KeyObject>): void {
  if (!Array.isArray(document.keys)) throw new Tampered('keys.json has no "keys" list');
  for (const key of document.keys) {
    if (!isObject(key) || typeof key.keyId !== 'string' || typeof key.publicKeyPem !== 'string')
      throw new Tampered('keys.json holds a key without keyId or publicKeyPem');
    if (key.algorithm !== 'Ed25519') throw new Tampered(`keys.json: key ${key.keyId} is not an Ed25519 key`);
    try {
      keys.set(key.keyId, createPublicKey(key.publicKeyPem));
    } catch {
      throw new Tampered(`keys.json: key ${key.keyId} is not a readable public key`);
    }
  }
}

/** VERIFY.md steps 3 and 4, and collects the signed heads for step 5. */
function checkDigests(
  digestLines: { text: string; number: number }[],
  keys: Map<string, KeyObject>,
  manifest: { [key: string]: Json } | null,
  heads: Map<string, Map<number, SignedHead>>,
  eventHashes: Map<string, Map<number, string>>,
  result: BundleVerification,
): void {
  let previousPayload: string | null = null;
  for (const { text, number } of digestLines) {
    if (text === '') continue;
    const where = `digest ${number} (line ${number} of digests.jsonl)`;
    const line = parse(text, where);
    if (!isObject(line) || typeof line.payload !== 'string' || typeof line.signature !== 'string' || typeof line.keyId !== 'string') {
      throw new Tampered(`${where} lacks payload, signature or keyId`);
    }
    const key = keys.get(line.keyId);
    if (!key) throw new Tampered(`${where} is signed with key ${line.keyId}, which keys.json does not hold`);
    if (!verify(null, Buffer.from(line.payload, 'utf8'), key, Buffer.from(line.signature, 'base64'))) {
      throw new Tampered(`${where}: the signature does not verify with key ${line.keyId}: the digest or its signature was altered`);
    }
    const payload = parse(line.payload, `${where}'s payload`);
    if (!isObject(payload)) throw new Tampered(`${where}'s payload is not a JSON object`);
    if (manifest && typeof manifest.tenantId === 'string' && payload.tenantId !== manifest.tenantId) throw new Tampered(`${where} belongs to another tenant`);
    if (previousPayload !== null && payload.previousDigestHash !== sha256(previousPayload)) {
      throw new Tampered(`${where}: previousDigestHash is not the SHA-256 of the digest before it: a digest is missing or out of order`);
    }
    previousPayload = line.payload;
    result.digests += 1;
    for (const head of Array.isArray(payload.streams) ? payload.streams : []) {
      if (!isObject(head) || typeof head.stream !== 'string' || typeof head.hash !== 'string')
        throw new Tampered(`${where} holds a stream head without stream or hash`);
      const revision = Number(head.revision);
      const recorded = eventHashes.get(head.stream)?.get(revision);
      if (recorded !== undefined) checkHead(head.stream, revision, recorded, { hash: head.hash, digestLine: number }, result);
      remember(heads, head.stream, revision, { hash: head.hash, digestLine: number });
    }
  }
}

function checkHead(stream: string, revision: number, hash: string, head: SignedHead, result: BundleVerification): void {
  result.headsChecked += 1;
  if (hash !== head.hash) {
    throw new Tampered(
      `stream ${stream} revision ${revision}: its hash differs from the head signed in digest ${head.digestLine}: the stream was rewritten after the digest was signed`,
    );
  }
}

/** VERIFY.md steps 1, 2 and 5, one line at a time. */
async function checkEvents(
  body: AsyncIterable<Buffer>,
  manifest: { [key: string]: Json } | null,
  heads: Map<string, Map<number, SignedHead>>,
  record: Map<string, Map<number, string>> | null,
  result: BundleVerification,
): Promise<void> {
  const complete = manifest?.complete !== false;
  const last = new Map<string, { revision: number; hash: string }>();
  const gaps = new Map<string, { revision: number; jumped: number; after: string; where: string }>();
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
    const content = sha256(canonical({ data, id, metadata, type }));
    if (sha256(`${previousHash}|${stream}|${revision}|${content}`) !== hash) {
      throw new Tampered(`${where}: its hash does not recompute: the event was altered`);
    }
    const before = last.get(stream);
    const gap = gaps.get(stream);
    if (revision === 0 && previousHash !== ZEROS) throw new Tampered(`${where}: the first event of a stream must follow 64 zeros`);
    if (gap && revision === gap.revision) throw new Tampered(`${where}: it comes after revision ${gap.jumped} of its stream: events were reordered`);
    if (gap) throw new Tampered(`${gap.where}: ${gap.after} is missing before it: an event was removed`);
    if (before) {
      if (revision <= before.revision) throw new Tampered(`${where}: it comes after revision ${before.revision} of its stream: events are out of order`);
      if (revision !== before.revision + 1 && complete) {
        // Removed, or moved further down the file: the next event of the stream tells which.
        gaps.set(stream, { revision: before.revision + 1, jumped: revision, after: `revision ${before.revision + 1} of its stream`, where });
      }
      if (revision === before.revision + 1 && previousHash !== before.hash) {
        throw new Tampered(`${where}: its previousHash is not the hash of revision ${before.revision}: the chain is broken`);
      }
    }
    last.set(stream, { revision, hash });
    const head = heads.get(stream)?.get(revision);
    if (head) checkHead(stream, revision, hash, head, result);
    if (record) {
      remember(record, stream, revision, hash);
    }
    result.events += 1;
  }
  for (const gap of gaps.values()) throw new Tampered(`${gap.where}: ${gap.after} is missing before it: an event was removed`);
  result.streams = last.size;
}

function remember<T>(map: Map<string, Map<number, T>>, stream: string, revision: number, value: T): void {
  const byRevision = map.get(stream) ?? new Map<number, T>();
  byRevision.set(revision, value);
  map.set(stream, byRevision);
}
