import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { deflateRaw, inflateRaw } from 'node:zlib';
import { deriveKey } from './keys';
import { type ObjectStorage, StorageError } from './object-storage';

const deflate = promisify(deflateRaw);
const inflate = promisify(inflateRaw);

const MAGIC = Buffer.from('BPO1', 'ascii');
const PLAIN = 0;
const DEFLATED = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + 1 + IV_BYTES;
const OVERHEAD = HEADER_BYTES + TAG_BYTES;
const SHA256 = /^[0-9a-f]{64}$/;

export interface StoredObject {
  /** SHA-256 of the plain bytes, hex: what a manifest records. */
  sha256: string;
  size: number;
  /** Bytes written to the storage: 0 when the object was there already. */
  storedBytes: number;
  isNew: boolean;
}

/**
 * Content-addressed, encrypted objects over any storage. An object is found by the SHA-256 of its
 * plain bytes, but stored under an HMAC of it: whoever holds the bucket cannot test whether a
 * known file is in it. Each object is compressed when that helps, then sealed with AES-256-GCM,
 * its name and header authenticated with it: a damaged, truncated or swapped object is refused.
 *
 * Layout: 'BPO1' | flag (0 plain, 1 deflated) | 12-byte IV | ciphertext | 16-byte tag.
 */
export class EncryptedObjectStore {
  private readonly prefix: string;
  private readonly nameKey: Buffer;
  private readonly sealKey: Buffer;

  constructor(
    private readonly storage: ObjectStorage,
    key: Buffer,
    options: { prefix?: string } = {},
  ) {
    if (key.length !== 32) throw new Error('an object store key holds 32 bytes');
    const prefix = options.prefix ?? '';
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    // One key for names and one for sealing: a name (visible to the bucket's holder) is never computed with the sealing key.
    this.nameKey = deriveKey(key, 'object-name');
    this.sealKey = deriveKey(key, 'object-seal');
  }

  /** The name an object of these plain bytes' SHA-256 is stored under, for a prune to tell live objects from dead ones. */
  nameOf(sha256: string): string {
    if (!SHA256.test(sha256)) throw new Error('an object is named by the lowercase hex SHA-256 of its content');
    return createHmac('sha256', this.nameKey).update(sha256, 'ascii').digest('hex');
  }

  async put(plain: Buffer): Promise<StoredObject> {
    const sha256 = createHash('sha256').update(plain).digest('hex');
    const name = this.nameOf(sha256);
    const key = this.keyOf(name);
    const existing = await this.storage.stat(key);
    // A size no sealing of these bytes could have is a damaged object: it is written again.
    if (existing && existing.size >= OVERHEAD && existing.size <= plain.length + OVERHEAD) {
      return { sha256, size: plain.length, storedBytes: 0, isNew: false };
    }
    const deflated = plain.length > 0 ? await deflate(plain, { level: 6 }) : plain;
    const flag = deflated.length < plain.length ? DEFLATED : PLAIN;
    const iv = randomBytes(IV_BYTES);
    const header = Buffer.concat([MAGIC, Buffer.of(flag), iv]);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv);
    cipher.setAAD(additionalData(header, name));
    const ciphertext = Buffer.concat([cipher.update(flag === DEFLATED ? deflated : plain), cipher.final()]);
    const body = Buffer.concat([header, ciphertext, cipher.getAuthTag()]);
    await this.storage.put(key, body);
    return { sha256, size: plain.length, storedBytes: body.length, isNew: true };
  }

  /** The plain bytes, checked against their SHA-256; StorageError 'NOT_FOUND' when absent, 'CORRUPT' when anything is wrong. */
  async get(sha256: string): Promise<Buffer> {
    const name = this.nameOf(sha256);
    let body: Buffer;
    try {
      body = await this.storage.get(this.keyOf(name));
    } catch (error) {
      if (error instanceof StorageError && error.code === 'NOT_FOUND') throw new StorageError('NOT_FOUND', `object ${sha256} is not stored`);
      throw error;
    }
    const corrupt = (why: string) => new StorageError('CORRUPT', `object ${sha256} is corrupt: ${why}`);
    if (body.length < OVERHEAD || !body.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt('not an encrypted object');
    const header = body.subarray(0, HEADER_BYTES);
    const flag = body[MAGIC.length];
    if (flag !== PLAIN && flag !== DEFLATED) throw corrupt('unknown format flag');
    let sealed: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.sealKey, body.subarray(MAGIC.length + 1, HEADER_BYTES));
      decipher.setAAD(additionalData(header, name));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      sealed = Buffer.concat([decipher.update(body.subarray(HEADER_BYTES, body.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw corrupt('authentication failed (damaged, or sealed with another key)');
    }
    let plain: Buffer;
    try {
      plain = flag === DEFLATED ? await inflate(sealed) : sealed;
    } catch {
      throw corrupt('cannot decompress');
    }
    if (createHash('sha256').update(plain).digest('hex') !== sha256) throw corrupt('content does not match its SHA-256');
    return plain;
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.storage.stat(this.keyOf(this.nameOf(sha256)))) !== null;
  }

  async remove(sha256: string): Promise<void> {
    await this.storage.delete(this.keyOf(this.nameOf(sha256)));
  }

  /** Removes an object found by list() whose SHA-256 no manifest names any more (a prune knows live objects by nameOf). */
  async removeName(name: string): Promise<void> {
    if (!SHA256.test(name)) throw new Error('an object name is 64 lowercase hex digits');
    await this.storage.delete(this.keyOf(name));
  }

  /** Every stored object by name (see nameOf), with its stored size. */
  async *list(): AsyncIterable<{ name: string; size: number }> {
    const root = `${this.prefix}objects/`;
    for await (const { key, size } of this.storage.list(root)) {
      const name = key.slice(key.lastIndexOf('/') + 1);
      if (SHA256.test(name) && key === this.keyOf(name)) yield { name, size };
    }
  }

  private keyOf(name: string): string {
    return `${this.prefix}objects/${name.slice(0, 2)}/${name}`;
  }
}

/** The header and the name are authenticated: a flipped flag, or an object copied under another name, fails the tag. */
function additionalData(header: Buffer, name: string): Buffer {
  return Buffer.concat([header, Buffer.from(name, 'ascii')]);
}
