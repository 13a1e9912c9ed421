import { createHash, randomUUID } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type ObjectStorage, type StorageFailure, StorageError } from './object-storage';

export interface S3StorageOptions {
  /** An S3-compatible server's URL; absent means AWS itself. */
  endpoint?: string;
  bucket: string;
  region: string;
  /** Where this storage's keys live inside the bucket, so one bucket can hold several storages. */
  prefix?: string;
  /** Most S3-compatible servers (MinIO, Ceph) want the bucket in the path rather than in the host name. */
  forcePathStyle?: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  /** How long a request may go without progress (connecting, or no byte either way) before it fails; 30 s when absent. */
  requestTimeoutMs?: number;
}

const KEY = /^[a-z0-9._-]+(\/[a-z0-9._-]+)*$/;
const PREFIX = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/** Objects in an S3 bucket. The credentials live only inside the private client, so neither inspection nor JSON of this object shows them. */
export class S3Storage implements ObjectStorage {
  readonly bucket: string;
  readonly prefix: string;
  readonly #client: S3Client;

  constructor(options: S3StorageOptions) {
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix);
    const timeout = options.requestTimeoutMs ?? 30_000;
    this.#client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
      // An idle limit rather than a deadline: a large object takes as long as it needs while its bytes flow.
      requestHandler: { connectionTimeout: timeout, socketTimeout: timeout },
    });
  }

  async put(key: string, body: Buffer): Promise<void> {
    // S3 refuses a body whose MD5 differs from the one announced, so bytes damaged on the way are never stored as if whole.
    const md5 = createHash('md5').update(body).digest('base64');
    await this.#call('put', key, () =>
      this.#client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.#objectKey(key), Body: body, ContentMD5: md5, ContentLength: body.length })),
    );
  }

  async get(key: string): Promise<Buffer> {
    return this.#call('get', key, async () => {
      const response = await this.#client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.#objectKey(key) }));
      if (!response.Body) throw new StorageError('CORRUPT', `S3 bucket ${this.bucket}: get ${key} returned no body`);
      const body = Buffer.from(await response.Body.transformToByteArray());
      if (response.ContentLength !== undefined && response.ContentLength !== body.length) {
        throw new StorageError('CORRUPT', `S3 bucket ${this.bucket}: get ${key} returned ${body.length} bytes of ${response.ContentLength}`);
      }
      return body;
    });
  }

  async stat(key: string): Promise<{ size: number } | null> {
    try {
      const head = await this.#call('stat', key, () => this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.#objectKey(key) })));
      return { size: head.ContentLength ?? 0 };
    } catch (error) {
      if (error instanceof StorageError && error.code === 'NOT_FOUND') return null;
      throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size: number }> {
    let continuationToken: string | undefined;
    do {
      const page = await this.#call('list', prefix, () =>
        this.#client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: continuationToken })),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key?.startsWith(this.prefix)) yield { key: object.Key.slice(this.prefix.length), size: object.Size ?? 0 };
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  }

  async delete(key: string): Promise<void> {
    await this.#call('delete', key, () => this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.#objectKey(key) })));
  }

  /** Proves the bucket takes, returns and forgets an object under the prefix, before a storage is trusted with backups. */
  async check(): Promise<void> {
    const key = `.probe-${randomUUID()}`;
    const body = Buffer.from(`backplane probe ${key}`);
    await this.put(key, body);
    let read: Buffer;
    try {
      read = await this.get(key);
    } catch (error) {
      // The read's failure is the news; a probe left behind by a failing delete is a few bytes.
      await this.delete(key).catch(() => undefined);
      throw error;
    }
    await this.delete(key);
    if (!read.equals(body)) throw new StorageError('CORRUPT', `S3 bucket ${this.bucket}: the probe ${this.prefix}${key} came back different`);
    // What backups do besides: ask for an object that is not there (without s3:ListBucket S3
    // answers 403 where it should say 404) and list what is stored (a prune does).
    if ((await this.stat(key)) !== null)
      throw new StorageError('CORRUPT', `S3 bucket ${this.bucket}: the probe ${this.prefix}${key} is still there once deleted`);
    for await (const _entry of this.list('objects/')) break;
  }

  /** Stops the client's pooled connections. */
  close(): void {
    this.#client.destroy();
  }

  #objectKey(key: string): string {
    // Refused like the folder storage refuses it, so callers see one behaviour whichever storage runs.
    if (!KEY.test(key) || key.split('/').some((part) => part === '.' || part === '..')) {
      throw new StorageError('DENIED', `invalid object key ${JSON.stringify(key.slice(0, 100))}`);
    }
    return this.prefix + key;
  }

  /**
   * Runs one S3 request and turns its failure into a StorageError built from the error code and status alone:
   * the SDK's error may carry the signed request, so it is never kept as a cause nor quoted.
   */
  async #call<T>(operation: string, key: string, request: () => Promise<T>): Promise<T> {
    let failure: { code: StorageFailure; reason: string };
    try {
      return await request();
    } catch (error) {
      if (error instanceof StorageError) throw error;
      failure = classify(error);
    }
    throw new StorageError(failure.code, `S3 bucket ${this.bucket}: ${operation} ${this.prefix}${key || '*'} failed: ${failure.reason}`);
  }
}

const DENIED = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'Forbidden',
  'AllAccessDisabled',
  'AccountProblem',
  'ExpiredToken',
  'InvalidToken',
]);
const CORRUPT = new Set(['BadDigest', 'InvalidDigest', 'XAmzContentSHA256Mismatch', 'IncompleteBody']);
const NOT_FOUND = new Set(['NoSuchKey', 'NotFound']);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED']);

function classify(error: unknown): { code: StorageFailure; reason: string } {
  const fields = (typeof error === 'object' && error !== null ? error : {}) as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  const name = typeof fields.name === 'string' ? fields.name : 'Error';
  const status = typeof fields.$metadata?.httpStatusCode === 'number' ? fields.$metadata.httpStatusCode : undefined;
  // The SDK wraps a socket error it does not recognise as an Error (one from another realm) and keeps its code only in the message.
  const wrappedCode = typeof fields.message === 'string' ? /\b(E[A-Z]{3,})\b/.exec(fields.message)?.[1] : undefined;
  const systemCode = typeof fields.code === 'string' && /^[A-Z_]+$/.test(fields.code) ? fields.code : wrappedCode;
  const reason = [safeWord(name), status === undefined ? undefined : `HTTP ${status}`, systemCode].filter(Boolean).join(', ');
  if (name === 'NoSuchBucket') return { code: 'UNAVAILABLE', reason: `${reason}: the bucket does not exist` };
  if (NOT_FOUND.has(name) || status === 404) return { code: 'NOT_FOUND', reason };
  if (DENIED.has(name) || status === 401 || status === 403) return { code: 'DENIED', reason };
  if (CORRUPT.has(name)) return { code: 'CORRUPT', reason };
  return { code: 'UNAVAILABLE', reason: systemCode && NETWORK.has(systemCode) ? `${reason}: the server does not answer` : reason };
}

/** An error name as a bare identifier, so nothing the server or the network put in it reaches a message. */
function safeWord(value: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : 'Error';
}

function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  if (!PREFIX.test(trimmed) || trimmed.split('/').includes('..')) throw new RangeError(`not a storage prefix: ${JSON.stringify(prefix)}`);
  return `${trimmed}/`;
}
