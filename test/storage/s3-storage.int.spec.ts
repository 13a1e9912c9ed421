import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { StorageError } from '../../src/storage/object-storage';
import { S3Storage, type S3StorageOptions } from '../../src/storage/s3-storage';
import { listeningPort, s3Error, signature } from '../support/s3-double';

// s3rver is a test double: a local server speaking S3's REST protocol. It knows one access key id, S3RVER, refuses
// any other with InvalidAccessKeyId, but does not verify SigV4 signatures (its source says so), so any secret passes.
// The front below verifies each request's SigV4 signature against the one right secret and, as S3 does, the
// Content-MD5 of a body, then relays the request to s3rver untouched.
// s3rver runs in a process of its own because its continuation tokens are DES-encrypted, which OpenSSL 3 only
// offers through its legacy provider.
const S3RVER = `
const S3rver = require(process.env.S3RVER_MODULE);
new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: process.env.S3RVER_DIRECTORY, configureBuckets: [{ name: 'backups' }] })
  .run()
  .then((address) => process.stdout.write('listening on ' + address.port + '\\n'));
`;
const ACCESS_KEY_ID = 'S3RVER';
const SECRET = `s3-secret-${randomBytes(18).toString('base64url')}`;
const WRONG_SECRET = `s3-wrong-${randomBytes(18).toString('base64url')}`;
const BUCKET = 'backups';

let s3rver: ChildProcess;
let s3rverPort: number;
let front: Server;
let endpoint: string;
let directory: string;
const storages: S3Storage[] = [];
/** What the front does to the next requests, for the failure tests. */
const front_ = { damageBodies: false, stall: false, requests: [] as string[] };

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'backplane-s3rver-'));
  s3rver = spawn(process.execPath, ['--openssl-legacy-provider', '-e', S3RVER], {
    env: { ...process.env, S3RVER_MODULE: require.resolve('s3rver'), S3RVER_DIRECTORY: directory },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  s3rverPort = await listeningPort(s3rver);
  front = createServer((req, res) => void relay(req, res));
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const storage of storages) storage.close();
  front.closeAllConnections();
  await new Promise((resolve) => front.close(resolve));
  s3rver.kill();
  if (s3rver.exitCode === null) await once(s3rver, 'exit');
  await rm(directory, { recursive: true, force: true });
});

beforeEach(() => {
  front_.damageBodies = false;
  front_.stall = false;
  front_.requests = [];
});

function storage(options: Partial<S3StorageOptions> = {}): S3Storage {
  const created = new S3Storage({
    endpoint,
    bucket: BUCKET,
    region: 'us-east-1',
    forcePathStyle: true,
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET,
    requestTimeoutMs: 5000,
    ...options,
  });
  storages.push(created);
  return created;
}

async function failure(promise: Promise<unknown>): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StorageError) return error;
    throw error;
  }
  throw new Error('expected a StorageError, the call succeeded');
}

function expectNoSecret(...subjects: unknown[]): void {
  for (const subject of subjects) {
    for (const text of [String(subject), inspect(subject, { depth: Number.POSITIVE_INFINITY, showHidden: true }), JSON.stringify(subject) ?? '']) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(WRONG_SECRET);
      expect(text).not.toMatch(/Signature=|AWS4-HMAC-SHA256/);
    }
  }
  for (const subject of subjects) {
    if (subject instanceof Error) expect(subject.cause).toBeUndefined();
  }
}

describe('S3Storage against s3rver', () => {
  it('stores, reads back, replaces and sizes an object under its prefix', async () => {
    const s3 = storage({ prefix: 'tenant-a' });
    const body = randomBytes(70_000);
    await s3.put('objects/ab/cd.bin', body);
    expect((await s3.get('objects/ab/cd.bin')).equals(body)).toBe(true);
    expect(await s3.stat('objects/ab/cd.bin')).toEqual({ size: 70_000 });

    await s3.put('objects/ab/cd.bin', Buffer.from('shorter'));
    expect((await s3.get('objects/ab/cd.bin')).toString()).toBe('shorter');
    expect(await s3.stat('objects/ab/cd.bin')).toEqual({ size: 7 });

    // The prefix is where the keys really live: a storage without it sees them one level down.
    const whole = storage();
    expect((await whole.get('tenant-a/objects/ab/cd.bin')).toString()).toBe('shorter');
    expect(await whole.stat('objects/ab/cd.bin')).toBeNull();
  });

  it('stat answers null for an absent key, and get refuses it with NOT_FOUND naming bucket and key', async () => {
    const s3 = storage({ prefix: 'tenant-b' });
    expect(await s3.stat('missing.bin')).toBeNull();
    const error = await failure(s3.get('missing.bin'));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toContain('backups');
    expect(error.message).toContain('tenant-b/missing.bin');
    expect(error.message).toContain('NoSuchKey');
  });

  it('deletes an object, and deleting an absent one is fine', async () => {
    const s3 = storage({ prefix: 'tenant-c' });
    await s3.put('gone.bin', Buffer.from('x'));
    await s3.delete('gone.bin');
    expect(await s3.stat('gone.bin')).toBeNull();
    expect((await failure(s3.get('gone.bin'))).code).toBe('NOT_FOUND');
    await expect(s3.delete('gone.bin')).resolves.toBeUndefined();
  });

  it('lists more than one page of keys (S3 gives at most 1000 a page) by following the continuation token', async () => {
    const s3 = storage({ prefix: 'tenant-d' });
    const keys = Array.from({ length: 1042 }, (_, index) => `many/${String(index).padStart(5, '0')}.bin`);
    for (let start = 0; start < keys.length; start += 50) {
      await Promise.all(keys.slice(start, start + 50).map((key, offset) => s3.put(key, Buffer.alloc((start + offset) % 7))));
    }
    await s3.put('other/outside.bin', Buffer.from('not listed'));
    front_.requests = [];

    const listed: { key: string; size: number }[] = [];
    for await (const entry of s3.list('many/')) listed.push(entry);

    expect(listed.map((entry) => entry.key).sort()).toEqual(keys);
    expect(listed.find((entry) => entry.key === 'many/00010.bin')).toEqual({ key: 'many/00010.bin', size: 3 });
    const pages = front_.requests.filter((line) => line.startsWith('GET /backups/?') && line.includes('list-type=2'));
    expect(pages).toHaveLength(2);
    expect(pages[0]).not.toContain('continuation-token=');
    expect(pages[1]).toContain('continuation-token=');
  }, 120_000);

  it('check() proves the bucket takes, returns and forgets a probe under the prefix', async () => {
    const s3 = storage({ prefix: 'tenant-e' });
    await s3.check();
    const puts = front_.requests.filter((line) => line.startsWith('PUT /backups/tenant-e/.probe-'));
    expect(puts).toHaveLength(1);
    const left: string[] = [];
    for await (const entry of storage().list('tenant-e/')) left.push(entry.key);
    expect(left).toEqual([]);
  });

  it('a wrong secret is DENIED, and neither secret shows in the error or the storage', async () => {
    const s3 = storage({ secretAccessKey: WRONG_SECRET });
    const error = await failure(s3.put('x.bin', Buffer.from('x')));
    expect(error.code).toBe('DENIED');
    expect(error.message).toContain('SignatureDoesNotMatch');
    expect(error.message).toContain('backups');
    expectNoSecret(error, s3, storage());
    await expect(s3.check()).rejects.toMatchObject({ code: 'DENIED' });
  });

  it('an access key id the server does not know is DENIED by s3rver itself', async () => {
    const s3 = storage({ accessKeyId: 'NOBODY' });
    const error = await failure(s3.get('x.bin'));
    expect(error.code).toBe('DENIED');
    expect(error.message).toContain('InvalidAccessKeyId');
    expectNoSecret(error);
  });

  it('a bucket that does not exist fails check() with a clear message', async () => {
    const s3 = storage({ bucket: 'no-such-bucket' });
    const error = await failure(s3.check());
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(/no-such-bucket.*NoSuchBucket.*does not exist/);
    expectNoSecret(error);
  });

  it('a body damaged on the way is refused as CORRUPT and not stored', async () => {
    const s3 = storage({ prefix: 'tenant-f' });
    front_.damageBodies = true;
    const error = await failure(s3.put('damaged.bin', Buffer.from('the bytes we meant to store')));
    front_.damageBodies = false;
    expect(error.code).toBe('CORRUPT');
    expect(error.message).toContain('BadDigest');
    expect(await s3.stat('damaged.bin')).toBeNull();
  });

  it('a server that is down is UNAVAILABLE', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    const s3 = storage({ endpoint: `http://127.0.0.1:${port}` });
    for (const call of [() => s3.get('x.bin'), () => s3.put('x.bin', Buffer.from('x')), () => s3.stat('x.bin'), () => s3.check()]) {
      const error = await failure(call());
      expect(error.code).toBe('UNAVAILABLE');
      expect(error.message).toContain('ECONNREFUSED');
      expectNoSecret(error);
    }
  });

  it('a server that does not answer is UNAVAILABLE once the request timeout passes', async () => {
    const s3 = storage({ requestTimeoutMs: 300 });
    front_.stall = true;
    const started = Date.now();
    const error = await failure(s3.stat('x.bin'));
    expect(error.code).toBe('UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(10_000);
    expectNoSecret(error);
  });

  it('refuses keys outside the storage key alphabet before any request', async () => {
    const s3 = storage();
    for (const key of ['../escape', 'a/./b', '/absolute', 'a//b', 'UPPER', '']) {
      expect((await failure(s3.put(key, Buffer.from('x')))).code).toBe('DENIED');
      expect((await failure(s3.get(key))).code).toBe('DENIED');
    }
    expect(front_.requests).toEqual([]);
  });
});

/** Verifies and relays one request; see the comment at the top. */
async function relay(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  let body = Buffer.concat(chunks);
  front_.requests.push(`${req.method} ${req.url}`);
  if (front_.stall) return;

  const authorization = req.headers.authorization ?? '';
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/.exec(authorization);
  // An unknown access key id is left to s3rver, which refuses it itself.
  if (match && match[1] === ACCESS_KEY_ID && signature(req, match[2], match[3], SECRET) !== match[4]) {
    return s3Error(res, 403, 'SignatureDoesNotMatch');
  }
  if (front_.damageBodies && body.length > 0) {
    body = Buffer.from(body);
    body[0] ^= 0xff;
  }
  const md5 = req.headers['content-md5'];
  if (typeof md5 === 'string' && createHash('md5').update(body).digest('base64') !== md5) return s3Error(res, 400, 'BadDigest');

  const upstream = request({ host: '127.0.0.1', port: s3rverPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => s3Error(res, 502, 'BadGateway'));
  upstream.end(body);
}
