import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash, createHmac } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// s3rver is a test double: a local server speaking S3's REST protocol, keeping its buckets in a
// folder. It knows one access key id, S3RVER, and refuses any other, but does not verify SigV4
// signatures, so any secret would pass: the front below verifies each request's signature against
// the one right secret (and, as S3 does, a body's Content-MD5), then relays it to s3rver untouched.
// s3rver runs in a process of its own because its continuation tokens are DES-encrypted, which
// OpenSSL 3 only offers through its legacy provider.
const S3RVER = `
const S3rver = require(process.env.S3RVER_MODULE);
new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: process.env.S3RVER_DIRECTORY,
  configureBuckets: JSON.parse(process.env.S3RVER_BUCKETS).map((name) => ({ name })) })
  .run()
  .then((address) => process.stdout.write('listening on ' + address.port + '\\n'));
`;

export const S3_DOUBLE_ACCESS_KEY_ID = 'S3RVER';

export interface S3Double {
  /** The signature-checking front's URL: what a client takes as its endpoint. */
  endpoint: string;
  /** Every file s3rver keeps, with its bytes: what a bucket's holder could read. */
  files(): Promise<{ path: string; bytes: Buffer }[]>;
  close(): Promise<void>;
}

/** Starts s3rver with the buckets, behind a front that accepts only `secret` as the secret access key of S3RVER. */
export async function startS3Double(secret: string, buckets: string[]): Promise<S3Double> {
  const directory = await mkdtemp(join(tmpdir(), 'backplane-s3rver-'));
  const s3rver = spawn(process.execPath, ['--openssl-legacy-provider', '-e', S3RVER], {
    env: { ...process.env, S3RVER_MODULE: require.resolve('s3rver'), S3RVER_DIRECTORY: directory, S3RVER_BUCKETS: JSON.stringify(buckets) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await listeningPort(s3rver);
  const front: Server = createServer((req, res) => void relay(req, res, port, secret));
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(front.address() as AddressInfo).port}`,
    async files() {
      const found: { path: string; bytes: Buffer }[] = [];
      for (const entry of await readdir(directory, { withFileTypes: true, recursive: true })) {
        if (entry.isFile()) found.push({ path: join(entry.parentPath, entry.name), bytes: await readFile(join(entry.parentPath, entry.name)) });
      }
      return found;
    },
    async close() {
      front.closeAllConnections();
      await new Promise((resolve) => front.close(resolve));
      s3rver.kill();
      if (s3rver.exitCode === null) await once(s3rver, 'exit');
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** The port s3rver says it listens on, once it says so. */
export async function listeningPort(child: ChildProcess): Promise<number> {
  let output = '';
  for await (const chunk of child.stdout!) {
    output += String(chunk);
    const port = /listening on (\d+)/.exec(output)?.[1];
    if (port) return Number(port);
  }
  throw new Error(`s3rver exited before listening: ${output}`);
}

async function relay(req: IncomingMessage, res: ServerResponse, port: number, secret: string): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const authorization = req.headers.authorization ?? '';
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/.exec(authorization);
  // An unknown access key id is left to s3rver, which refuses it itself.
  if (match && match[1] === S3_DOUBLE_ACCESS_KEY_ID && signature(req, match[2], match[3], secret) !== match[4])
    return s3Error(res, 403, 'SignatureDoesNotMatch');
  const md5 = req.headers['content-md5'];
  if (typeof md5 === 'string' && createHash('md5').update(body).digest('base64') !== md5) return s3Error(res, 400, 'BadDigest');
  const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => s3Error(res, 502, 'BadGateway'));
  upstream.end(body);
}

/** An S3 error answer, as S3 words it. */
export function s3Error(res: ServerResponse, status: number, code: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>refused by the test front</Message></Error>`);
}

/** AWS Signature Version 4, computed from the request as received, for S3 (whose paths are signed as sent). */
export function signature(req: IncomingMessage, scope: string, signedHeaders: string, secret: string): string {
  const [date, region, service] = scope.split('/');
  const url = new URL(req.url ?? '/', 'http://front');
  const encode = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const query = [...url.searchParams.entries()]
    .map(([name, value]) => `${encode(name)}=${encode(value)}`)
    .sort()
    .join('&');
  const headers = signedHeaders
    .split(';')
    .map(
      (name) =>
        `${name}:${String(req.headers[name] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const canonical = [req.method, url.pathname, query, headers, signedHeaders, req.headers['x-amz-content-sha256']].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', req.headers['x-amz-date'], scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${secret}`).update(date).digest();
  for (const part of [region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(toSign).digest('hex');
}
