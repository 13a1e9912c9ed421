import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import {
  checkDigestChain,
  DigestFormatError,
  digestHash,
  GENESIS_DIGEST_HASH,
  headMismatches,
  keyIdOf,
  parsePayload,
  payloadText,
  publicKeyPem,
  signatureValid,
  signDigest,
  type DigestPayload,
  type SignedDigest,
} from '../../src/audit/digest';

const ed25519 = () => generateKeyPairSync('ed25519');
const hex = (char: string) => char.repeat(64);

function payload(overrides: Partial<DigestPayload> = {}): DigestPayload {
  return {
    tenantId: 'tenant-a',
    periodStart: '2026-01-01T00:00:00.000Z',
    periodEnd: '2026-01-01T01:00:00.000Z',
    eventCount: 3,
    logPosition: '42-1',
    previousDigestHash: GENESIS_DIGEST_HASH,
    streams: [
      { stream: 'plan-2', revision: 4, hash: hex('b') },
      { stream: 'plan-1', revision: 0, hash: hex('a') },
    ],
    ...overrides,
  };
}

/** A chain of `count` digests, one hour each, signed with `key`. */
function chain(count: number, key = ed25519()): { digests: SignedDigest[]; keys: Map<string, string>; keyId: string } {
  const keyId = keyIdOf(key.publicKey);
  const digests: SignedDigest[] = [];
  let previous = GENESIS_DIGEST_HASH;
  for (let i = 0; i < count; i++) {
    const text = payloadText(
      payload({
        periodStart: new Date(Date.UTC(2026, 0, 1, i)).toISOString(),
        periodEnd: new Date(Date.UTC(2026, 0, 1, i + 1)).toISOString(),
        previousDigestHash: previous,
        eventCount: i,
      }),
    );
    digests.push(signDigest(text, key.privateKey, keyId));
    previous = digestHash(text);
  }
  return { digests, keys: new Map([[keyId, publicKeyPem(key.publicKey)]]), keyId };
}

describe('the payload text', () => {
  it('has the keys of the contract in their order, no spaces, and streams by name', () => {
    const text = payloadText(payload());
    expect(Object.keys(JSON.parse(text))).toEqual(['tenantId', 'periodStart', 'periodEnd', 'eventCount', 'logPosition', 'previousDigestHash', 'streams']);
    expect(JSON.parse(text).streams.map((head: { stream: string }) => head.stream)).toEqual(['plan-1', 'plan-2']);
    expect(text).not.toMatch(/[:,] /);
    expect(payloadText(payload({ streams: [...payload().streams].reverse() }))).toBe(text);
  });

  it('reads back what it wrote', () => {
    const text = payloadText(payload());
    expect(payloadText(parsePayload(text))).toBe(text);
  });

  it.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    ['a bad previous hash', payloadText(payload({ previousDigestHash: 'abc' }))],
    ['a negative count', payloadText(payload({ eventCount: -1 }))],
    ['a bad date', payloadText(payload({ periodEnd: 'yesterday' }))],
    ['a head without hash', JSON.stringify({ ...payload(), streams: [{ stream: 's', revision: 0 }] })],
  ])('refuses %s', (_name, text) => {
    expect(() => parsePayload(text)).toThrow(DigestFormatError);
  });

  it('hashes the UTF-8 bytes of the text, as sha256sum would', () => {
    const text = payloadText(payload({ tenantId: 'tenant-é' }));
    expect(digestHash(text)).toBe(createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex'));
    expect(digestHash(text)).not.toBe(digestHash(payloadText(payload())));
  });
});

describe('keys and signatures', () => {
  it('names a key by the first 16 hex digits of the SHA-256 of its raw public key, from either half', () => {
    const key = ed25519();
    const raw = key.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const expected = createHash('sha256').update(raw).digest('hex').slice(0, 16);
    expect(keyIdOf(key.publicKey)).toBe(expected);
    expect(keyIdOf(key.privateKey)).toBe(expected);
    expect(keyIdOf(publicKeyPem(key.publicKey))).toBe(expected);
    expect(keyIdOf(ed25519().publicKey)).not.toBe(expected);
  });

  it('signs exactly the UTF-8 bytes of the payload, checkable without this module', () => {
    const key = ed25519();
    const text = payloadText(payload());
    const digest = signDigest(text, key.privateKey, keyIdOf(key.publicKey));
    expect(verify(null, Buffer.from(text, 'utf8'), publicKeyPem(key.publicKey), Buffer.from(digest.signature, 'base64'))).toBe(true);
    expect(signatureValid(digest, publicKeyPem(key.publicKey))).toBe(true);
  });

  it('finds a changed payload, a changed signature and the wrong key', () => {
    const key = ed25519();
    const digest = signDigest(payloadText(payload()), key.privateKey, keyIdOf(key.publicKey));
    expect(signatureValid({ ...digest, payload: digest.payload.replace('"eventCount":3', '"eventCount":4') }, key.publicKey)).toBe(false);
    const signature = Buffer.from(digest.signature, 'base64');
    signature[0] ^= 1;
    expect(signatureValid({ ...digest, signature: signature.toString('base64') }, key.publicKey)).toBe(false);
    expect(signatureValid(digest, ed25519().publicKey)).toBe(false);
    expect(signatureValid(digest, 'not a key')).toBe(false);
  });

  it('refuses to sign with a key that is not Ed25519', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => signDigest('{}', rsa.privateKey, 'x')).toThrow(/Ed25519/);
  });
});

describe('checkDigestChain', () => {
  it('passes an untouched chain from the start', () => {
    const { digests, keys } = chain(4);
    const result = checkDigestChain(digests, keys, GENESIS_DIGEST_HASH);
    expect(result).toMatchObject({ checked: 4, problem: null });
    expect(result.payloads.map((p) => p.eventCount)).toEqual([0, 1, 2, 3]);
  });

  it('takes a run from the middle of a chain when no first hash is given, not when one is', () => {
    const { digests, keys } = chain(4);
    expect(checkDigestChain(digests.slice(2), keys).problem).toBeNull();
    expect(checkDigestChain(digests.slice(2), keys, GENESIS_DIGEST_HASH).problem).toMatchObject({ kind: 'chain', index: 0 });
  });

  it('names a removed digest, two swapped, an altered one and an unknown key', () => {
    const { digests, keys } = chain(4);
    expect(checkDigestChain([digests[0], digests[2], digests[3]], keys, GENESIS_DIGEST_HASH).problem).toMatchObject({
      kind: 'chain',
      index: 1,
      periodEnd: '2026-01-01T03:00:00.000Z',
    });
    expect(checkDigestChain([digests[0], digests[2], digests[1], digests[3]], keys, GENESIS_DIGEST_HASH).problem).toMatchObject({ kind: 'chain', index: 1 });
    const altered = [...digests];
    altered[2] = { ...altered[2], payload: altered[2].payload.replace('"eventCount":2', '"eventCount":9') };
    expect(checkDigestChain(altered, keys, GENESIS_DIGEST_HASH).problem).toMatchObject({ kind: 'signature', index: 2 });
    expect(checkDigestChain(digests, new Map(), GENESIS_DIGEST_HASH).problem).toMatchObject({ kind: 'unknown-key', index: 0 });
  });

  it('verifies digests signed with a retired key beside those of its successor', () => {
    const first = chain(2);
    const next = ed25519();
    const nextId = keyIdOf(next.publicKey);
    const text = payloadText(
      payload({ periodStart: '2026-01-01T02:00:00.000Z', periodEnd: '2026-01-01T03:00:00.000Z', previousDigestHash: digestHash(first.digests[1].payload) }),
    );
    const keys = new Map([...first.keys, [nextId, publicKeyPem(next.publicKey)]]);
    expect(checkDigestChain([...first.digests, signDigest(text, next.privateKey, nextId)], keys, GENESIS_DIGEST_HASH).problem).toBeNull();
  });

  it("refuses a digest whose period ends outside its key's window: before the key was made, or after it was retired", () => {
    const { digests, keys, keyId } = chain(3);
    const publicKey = keys.get(keyId)!;
    const window = (createdAt: string, retiredAt: string | null) => new Map([[keyId, { publicKey, createdAt, retiredAt }]]);
    // The digests end at 01:00, 02:00 and 03:00.
    expect(checkDigestChain(digests, window('2026-01-01T01:00:00.000Z', null), GENESIS_DIGEST_HASH).problem).toBeNull();
    expect(checkDigestChain(digests, window('2026-01-01T00:00:00.000Z', '2026-01-01T03:00:00.000Z'), GENESIS_DIGEST_HASH).problem).toBeNull();
    // A key inserted later with its retirement backdated: it did not exist when the first period ended.
    expect(checkDigestChain(digests, window('2026-01-01T01:30:00.000Z', '2026-01-01T05:00:00.000Z'), GENESIS_DIGEST_HASH).problem).toMatchObject({
      kind: 'key-window',
      index: 0,
      periodEnd: '2026-01-01T01:00:00.000Z',
    });
    expect(checkDigestChain(digests, window('2026-01-01T00:00:00.000Z', '2026-01-01T02:30:00.000Z'), GENESIS_DIGEST_HASH).problem).toMatchObject({
      kind: 'key-window',
      index: 2,
    });
  });

  it('names a chain that mixes tenants, and a period that does not start where the last ended', () => {
    const { digests, keys } = chain(2);
    const [key] = [...keys.keys()];
    const other = ed25519();
    const otherKeys = new Map([
      [key, keys.get(key)!],
      [keyIdOf(other.publicKey), publicKeyPem(other.publicKey)],
    ]);
    const foreign = signDigest(
      payloadText(payload({ tenantId: 'tenant-b', previousDigestHash: digestHash(digests[0].payload) })),
      other.privateKey,
      keyIdOf(other.publicKey),
    );
    expect(checkDigestChain([digests[0], foreign], otherKeys).problem).toMatchObject({ kind: 'tenant', index: 1 });
    const late = signDigest(
      payloadText(
        payload({ periodStart: '2026-01-01T05:00:00.000Z', periodEnd: '2026-01-01T06:00:00.000Z', previousDigestHash: digestHash(digests[1].payload) }),
      ),
      other.privateKey,
      keyIdOf(other.publicKey),
    );
    expect(checkDigestChain([...digests, late], otherKeys).problem).toMatchObject({ kind: 'chain', index: 2 });
  });
});

describe('headMismatches', () => {
  it('names each signed head the log no longer shows, and a missing event', () => {
    const log = new Map([
      ['plan-1@0', hex('a')],
      ['plan-2@4', hex('c')],
    ]);
    expect(headMismatches(payload(), (stream, revision) => log.get(`${stream}@${revision}`) ?? null)).toEqual([
      { stream: 'plan-2', revision: 4, signedHash: hex('b'), foundHash: hex('c') },
    ]);
    expect(headMismatches(payload(), () => null)).toHaveLength(2);
    log.set('plan-2@4', hex('b'));
    expect(headMismatches(payload(), (stream, revision) => log.get(`${stream}@${revision}`) ?? null)).toEqual([]);
  });
});
