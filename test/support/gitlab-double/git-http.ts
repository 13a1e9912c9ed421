/**
 * A bridge to git's own smart HTTP server, `git http-backend`, run as CGI once per request: the
 * request becomes its environment and standard input, its standard output becomes the response
 * (CGI headers, a blank line, then the body, streamed). Being git's own server, it speaks every
 * version of the protocol the client does, and refuses what git refuses.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isolatedEnv } from './git-repos';

export interface CgiRequest {
  /** GIT_PROJECT_ROOT. */
  projectRoot: string;
  /** Below projectRoot: '/12.git/info/refs'. */
  pathInfo: string;
  queryString: string;
  /** Who pushes: receive-pack is enabled only for an authenticated user. */
  remoteUser: string;
  /** Headers to add to the answer (rate limit headers). */
  headers?: Record<string, string>;
}

/** The longest CGI header block accepted before the answer counts as broken. */
const MAX_HEAD_BYTES = 64 * 1024;

export class GitHttpBackend {
  private readonly running = new Set<ChildProcess>();

  /** Process ids of the http-backend processes running now. */
  get pids(): number[] {
    return [...this.running].flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
  }

  /** Answers the request; onHead gets the status when it is sent (0 when the client left first). */
  serve(req: IncomingMessage, res: ServerResponse, cgi: CgiRequest, onHead: (status: number) => void): void {
    const env = isolatedEnv({
      GIT_PROJECT_ROOT: cgi.projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: cgi.pathInfo,
      REQUEST_METHOD: req.method ?? 'GET',
      QUERY_STRING: cgi.queryString,
      REMOTE_USER: cgi.remoteUser,
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
    });
    // Without a length (a chunked body, which Node has already decoded) http-backend reads to the end of its input.
    if (req.headers['content-length'] !== undefined) env.CONTENT_LENGTH = req.headers['content-length'];
    const protocol = req.headers['git-protocol'];
    if (typeof protocol === 'string') env.GIT_PROTOCOL = protocol;
    const encoding = req.headers['content-encoding'];
    if (typeof encoding === 'string') env.HTTP_CONTENT_ENCODING = encoding;

    const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    this.running.add(child);
    let reported = false;
    const report = (status: number) => {
      if (reported) return;
      reported = true;
      onHead(status);
    };
    child.on('close', () => {
      this.running.delete(child);
      if (!res.headersSent) fail(res, 502);
      else if (!res.writableEnded) res.end();
      report(res.headersSent ? res.statusCode : 0);
    });
    child.on('error', () => child.kill('SIGKILL'));
    // The client hanging up ends the backend, which would otherwise wait for input that never comes.
    res.on('close', () => {
      if (!res.writableFinished) child.kill('SIGKILL');
      report(res.headersSent ? res.statusCode : 0);
    });
    // The backend may stop reading (a refusal) before the body ends.
    child.stdin.on('error', () => {});
    req.pipe(child.stdin);

    let pending = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      if (res.destroyed) return;
      if (res.headersSent) {
        if (!res.write(chunk)) {
          child.stdout.pause();
          res.once('drain', () => child.stdout.resume());
        }
        return;
      }
      pending = Buffer.concat([pending, chunk]);
      const parsed = parseHead(pending);
      if (parsed === 'broken' || (parsed === 'incomplete' && pending.length > MAX_HEAD_BYTES)) child.kill('SIGKILL');
      if (typeof parsed === 'string') return;
      res.writeHead(parsed.status, { ...parsed.headers, ...cgi.headers });
      report(parsed.status);
      if (parsed.body.length > 0) res.write(parsed.body);
    };
    child.stdout.on('data', onData);
  }

  /** Ends every backend still running and waits for them to exit. */
  async close(): Promise<void> {
    const exits = [...this.running].map((child) => new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve()))));
    for (const child of this.running) child.kill('SIGKILL');
    await Promise.all(exits);
  }
}

interface Head {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** CGI's answer head: header lines ('Status: 404 Not Found' among them), then an empty line. */
function parseHead(data: Buffer): Head | 'incomplete' | 'broken' {
  const crlf = data.indexOf('\r\n\r\n');
  const lf = data.indexOf('\n\n');
  const end = crlf >= 0 && (lf < 0 || crlf < lf) ? { at: crlf, length: 4 } : lf >= 0 ? { at: lf, length: 2 } : undefined;
  if (!end) return 'incomplete';
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of data.subarray(0, end.at).toString('latin1').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return 'broken';
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'status') {
      status = Number.parseInt(value, 10);
      if (!(status >= 100 && status <= 599)) return 'broken';
    } else {
      headers[name] = value;
    }
  }
  return { status, headers, body: data.subarray(end.at + end.length) };
}

function fail(res: ServerResponse, status: number): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = 'The git backend ended without answering.\n';
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export interface GitRoute {
  /** Full path of the project, decoded: 'acme/web'. */
  projectPath: string;
  wiki: boolean;
  service: 'git-upload-pack' | 'git-receive-pack';
  /** What http-backend is asked for below the repository: '/info/refs' or '/git-upload-pack'. */
  endpoint: string;
  /** What http-backend gets as QUERY_STRING: only what it needs, never the client's raw query. */
  queryString: string;
}

const SERVICES = new Set(['git-upload-pack', 'git-receive-pack']);

/**
 * The git request a path and method make: undefined for a path that is not a repository's
 * ('/<full path>.git/...', '/<full path>.wiki.git/...'), 'not-found' for anything under one that
 * the smart protocol does not use (the dumb protocol's files included) or that would leave it.
 */
export function gitRouteOf(method: string, path: string, query: Record<string, string>): GitRoute | 'not-found' | undefined {
  const match = /^\/(.+?)\.git(\/.*)?$/.exec(path);
  if (!match) return undefined;
  let repository: string;
  try {
    repository = decodeURIComponent(match[1]);
  } catch {
    return 'not-found';
  }
  const segments = repository.split('/');
  if (segments.length < 2 || segments.some((segment) => segment === '' || segment === '.' || segment === '..' || segment.includes('\\'))) return 'not-found';
  const wiki = repository.endsWith('.wiki');
  const projectPath = wiki ? repository.slice(0, -'.wiki'.length) : repository;
  const rest = match[2] ?? '';
  if (rest === '/info/refs' && method === 'GET' && SERVICES.has(query.service)) {
    return { projectPath, wiki, service: query.service as GitRoute['service'], endpoint: rest, queryString: `service=${query.service}` };
  }
  const service = rest.slice(1);
  if (method === 'POST' && SERVICES.has(service)) return { projectPath, wiki, service: service as GitRoute['service'], endpoint: rest, queryString: '' };
  return 'not-found';
}

/** HTTP Basic credentials, the only ones git sends: any username with a token as password, or oauth2 with an OAuth token. */
export function basicCredentialOf(req: IncomingMessage): { username: string; password: string } | undefined {
  const authorization = req.headers.authorization;
  if (!authorization || !/^basic /i.test(authorization)) return undefined;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString();
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The scopes of which a token needs one: fetching takes any repository scope, pushing a writing one. */
export function scopesFor(service: GitRoute['service']): string[] {
  return service === 'git-receive-pack' ? ['write_repository', 'api'] : ['read_repository', 'write_repository', 'api'];
}
