/**
 * A test double of GitLab's REST API, not GitLab: a real HTTP server on 127.0.0.1 that holds users,
 * tokens, groups and projects in memory and speaks GitLab's protocol (authentication, pagination,
 * rate limit headers, OAuth 2 with PKCE) for the few endpoints Backplane uses, so that the real
 * @gitbeaker/rest client can be driven against it. Tests set up its state, inject faults, and
 * read back every request it answered.
 *
 * On /api/v4 the order is GitLab's: authentication (401), then the rate limit (429), then the
 * endpoint. Faults come before all of it. Git's smart HTTP protocol is served the same way, by
 * git itself (git-http.ts) from real repositories on disk (git-repos.ts); under a repository's path,
 * what the smart protocol does not use answers 404 before any authentication.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { notFound, serveApi, type Answer } from './api';
import { Faults, type FaultRequest, type FaultRule } from './faults';
import { basicCredentialOf, GitHttpBackend, type GitRoute, gitRouteOf, scopesFor } from './git-http';
import { GitRepos, type CommitOptions } from './git-repos';
import { Model, randomToken, todayUtc, type ProjectCounts } from './model';
import { OAuthProvider } from './oauth';
import { RateLimits, type RateLimitRule } from './rate-limit';

export interface RecordedRequest {
  method: string;
  /** As sent, without the query. */
  path: string;
  query: Record<string, string>;
  /** Whose token it carried (even a revoked or expired one); for /oauth/authorize, who was signed in. */
  username: string | null;
  /** 0 when the double hung up without answering. */
  status: number;
  /** When it arrived (Date.now()). */
  at: number;
}

const API_PREFIX = '/api/v4/';
const UNAUTHORIZED_TEXT =
  "HTTP Basic: Access denied. If a password was provided for Git authentication, the password was incorrect or you're required to use a token instead of a password. If a token was provided, it was either incorrect, expired, or improperly scoped.\n";
const NOT_FOUND_TEXT = "The project you were looking for could not be found or you don't have permission to view it.\n";
const DEFAULT_SCOPES = ['api', 'read_api', 'read_repository'];
const MAX_FORM_BYTES = 64 * 1024;
/** An issue's description may be long; GitLab takes a million characters. */
const MAX_WRITE_BYTES = 4 * 1024 * 1024;

export class GitLabDouble {
  /** Every request answered, faults and refusals included, in the order of their answers. */
  readonly requests: RecordedRequest[] = [];
  private readonly model = new Model();
  private readonly rateLimits = new RateLimits();
  private readonly faults = new Faults();
  private readonly oauth = new OAuthProvider(this.model);
  private readonly gitRateLimits = new RateLimits();
  private readonly repos = new GitRepos();
  private readonly backend = new GitHttpBackend();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly server: Server;
  private address = '';

  private constructor() {
    this.server = createServer((req, res) => this.receive(req, res));
  }

  static async start(options: { rateLimit?: RateLimitRule } = {}): Promise<GitLabDouble> {
    const double = new GitLabDouble();
    if (options.rateLimit) double.rateLimits.set(options.rateLimit);
    await new Promise<void>((resolve, reject) => {
      double.server.once('error', reject);
      double.server.listen(0, '127.0.0.1', resolve);
    });
    double.address = `http://127.0.0.1:${(double.server.address() as AddressInfo).port}`;
    return double;
  }

  /** 'http://127.0.0.1:<port>', what gitbeaker takes as host. */
  get url(): string {
    return this.address;
  }

  addUser(username: string): { id: number } {
    return { id: this.model.addUser(username).id };
  }

  /** A personal access token of the user; returns its value. */
  addToken(username: string, options: { token?: string; scopes?: string[]; expiresAt?: string | null; name?: string } = {}): string {
    const user = this.model.users.get(username);
    if (!user) throw new Error(`no user ${username}`);
    const token = this.model.addToken({
      value: options.token ?? randomToken(),
      name: options.name ?? `${username}-token`,
      userId: user.id,
      scopes: options.scopes ?? DEFAULT_SCOPES,
      expiresAt: options.expiresAt === undefined ? oneYearFromToday() : options.expiresAt,
      expiresAtMs: null,
      kind: 'personal',
    });
    return token.value;
  }

  revokeToken(token: string): void {
    const found = this.model.tokens.get(token);
    if (!found) throw new Error('no such token');
    found.revoked = true;
  }

  /** members: who sees the group and its subgroups; a top-level group without is everyone's, a subgroup without is its parent's. */
  addGroup(fullPath: string, options: { members?: string[] } = {}): { id: number } {
    return { id: this.model.addGroup(fullPath, options.members).id };
  }

  /** Counts not given take the model's defaults (ProjectCounts). */
  addProject(groupPath: string, path: string, options: Partial<ProjectCounts> = {}): { id: number; fullPath: string } {
    const project = this.model.addProject(groupPath, path, options);
    return { id: project.id, fullPath: `${project.group.fullPath}/${project.path}` };
  }

  /** Same id, new path; the old path answers 404 (the double keeps no redirects). */
  renameProject(id: number, newPath: string): void {
    this.model.renameProject(id, newPath);
  }

  removeProject(id: number): void {
    this.model.removeProject(id);
  }

  /** Per token when given (null: back to the default), else the default for every token. */
  setRateLimit(rule: RateLimitRule | null, token?: string): void {
    this.rateLimits.set(rule, token);
  }

  fault(rule: FaultRule): void {
    this.faults.add(rule);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  resetRequests(): void {
    this.requests.length = 0;
  }

  addOAuthApplication(clientId: string, clientSecret: string, redirectUri: string): void {
    this.oauth.addApplication(clientId, clientSecret, redirectUri);
  }

  /** Who is signed in to the browser that visits /oauth/authorize; null: nobody (401). */
  signInAs(username: string | null): void {
    if (username !== null && !this.model.users.has(username)) throw new Error(`no user ${username}`);
    this.oauth.signedIn = username;
  }

  /** Whether a refresh ends the access token issued with the refresh token it uses. */
  setOAuthRevokeOnRefresh(revoke: boolean): void {
    this.oauth.revokeOnRefresh = revoke;
  }

  /** expires_in of the access tokens issued from now on. */
  setOAuthTokenLifetime(seconds: number): void {
    this.oauth.tokenLifetimeSeconds = seconds;
  }

  /** The project's bare repository on disk, created empty (default branch main) on first use; a renamed project keeps it. */
  repositoryOf(projectId: number): string {
    return this.repos.repositoryOf(projectId);
  }

  /** One commit on the branch (main by default) adding or replacing these files; its sha. */
  async commit(projectId: number, options: CommitOptions): Promise<string> {
    return this.repos.commit(projectId, options);
  }

  /** A lightweight tag, of main's tip unless a target is given. */
  async tag(projectId: number, name: string, target?: string): Promise<void> {
    await this.repos.tag(projectId, name, target);
  }

  /** Any full ref, such as refs/merge-requests/1/head, which GitLab serves but refuses to take in a push. */
  async setRef(projectId: number, ref: string, sha: string): Promise<void> {
    await this.repos.setRef(projectId, ref, sha);
  }

  async deleteRef(projectId: number, ref: string): Promise<void> {
    await this.repos.deleteRef(projectId, ref);
  }

  /** Whether the project's wiki has a repository (made by commit with wiki: true). */
  hasWiki(projectId: number): boolean {
    return this.repos.hasWiki(projectId);
  }

  /** The throttle of git HTTP requests, apart from the API's: per token when given (null: back to the default), else for every token. */
  setGitRateLimit(rule: RateLimitRule | null, token?: string): void {
    this.gitRateLimits.set(rule, token);
  }

  /** Process ids of the git http-backend processes answering requests now. */
  gitProcessIds(): number[] {
    return this.backend.pids;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.server.closeAllConnections();
    await Promise.all([new Promise<void>((resolve) => this.server.close(() => resolve())), this.backend.close()]);
    this.repos.remove();
  }

  private receive(req: IncomingMessage, res: ServerResponse): void {
    const at = Date.now();
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    const query: Record<string, string> = q < 0 ? {} : Object.fromEntries(new URLSearchParams(raw.slice(q + 1)));
    const method = req.method ?? 'GET';
    const record: RecordedRequest = { method, path, query, username: this.whoAsked(req, path), status: 0, at };
    const fault = this.faults.take({ method, path, query, username: record.username } satisfies FaultRequest);
    if (!fault) {
      this.route(req, res, record);
      return;
    }
    const act = () => {
      if (fault.hangUp) {
        this.requests.push(record);
        req.socket.destroy();
      } else if (fault.status !== undefined) {
        this.send(res, record, { status: fault.status, body: { message: `${fault.status} ${STATUS_CODES[fault.status] ?? 'Error'}` } });
      } else {
        this.route(req, res, record);
      }
    };
    if (!fault.delayMs) {
      act();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      act();
    }, fault.delayMs);
    this.timers.add(timer);
  }

  private whoAsked(req: IncomingMessage, path: string): string | null {
    if (path === '/oauth/authorize') return this.oauth.signedIn;
    if (isGitPath(path)) {
      const credential = basicCredentialOf(req);
      const token = credential && this.model.tokens.get(credential.password);
      return token ? this.model.userById(token.userId).username : null;
    }
    if (!path.startsWith(API_PREFIX)) return null;
    const credential = credentialOf(req);
    const token = credential && this.model.tokens.get(credential.value);
    return token ? this.model.userById(token.userId).username : null;
  }

  private route(req: IncomingMessage, res: ServerResponse, record: RecordedRequest): void {
    try {
      const git = gitRouteOf(record.method, record.path, record.query);
      if (git === 'not-found') {
        this.sendText(res, record, 404, NOT_FOUND_TEXT);
        return;
      }
      if (git) {
        this.git(req, res, record, git);
        return;
      }
      if (record.path.startsWith(API_PREFIX)) {
        if (record.method === 'GET') this.send(res, record, this.api(req, record));
        else this.readBody(req, res, record, (body) => this.api(req, record, body));
        return;
      }
      if (record.path === '/oauth/authorize' && record.method === 'GET') {
        this.send(res, record, this.oauth.authorize(record.query, Date.now()));
        return;
      }
      if (record.path === '/oauth/token' && record.method === 'POST') {
        this.tokenRequest(req, res, record);
        return;
      }
      this.send(res, record, notFound());
    } catch (error) {
      this.send(res, record, { status: 500, body: { message: `500 Internal Server Error: ${String(error)}` } });
    }
  }

  private api(req: IncomingMessage, record: RecordedRequest, body?: Record<string, unknown>): Answer {
    const now = Date.now();
    const credential = credentialOf(req);
    const token = credential && this.model.tokens.get(credential.value);
    // OAuth access tokens are accepted as Bearer tokens only; personal access tokens either way.
    if (!token || !this.model.isUsable(token, now) || (token.kind === 'oauth' && !credential.bearer)) {
      return { status: 401, body: { message: '401 Unauthorized' } };
    }
    token.lastUsedAt = now;
    const rate = this.rateLimits.take(token.value, now);
    if (rate?.limited) return { status: 429, body: { message: 'Retry later' }, headers: rate.headers };
    const segments = decodeSegments(record.path.slice(API_PREFIX.length));
    const answer = segments
      ? serveApi(this.model, {
          segments,
          query: record.query,
          baseUrl: this.address,
          linkBase: this.address + record.path,
          caller: { user: this.model.userById(token.userId), token },
          now,
          method: record.method,
          ...(body !== undefined && { body }),
        })
      : notFound();
    return rate ? { ...answer, headers: { ...answer.headers, ...rate.headers } } : answer;
  }

  /** GitLab's order for git over HTTP: authentication, the git throttle, the project (hidden when not visible), the token's scopes. */
  private git(req: IncomingMessage, res: ServerResponse, record: RecordedRequest, route: GitRoute): void {
    const now = Date.now();
    const credential = basicCredentialOf(req);
    const token = credential && this.model.tokens.get(credential.password);
    // An OAuth access token goes with the username oauth2 only; a personal access token with any.
    if (!token || !this.model.isUsable(token, now) || (token.kind === 'oauth' && credential.username !== 'oauth2')) {
      this.sendText(res, record, 401, UNAUTHORIZED_TEXT, { 'www-authenticate': 'Basic realm="GitLab"' });
      return;
    }
    token.lastUsedAt = now;
    const rate = this.gitRateLimits.take(token.value, now);
    const rateHeaders = rate ? { ...rate.headers, 'ratelimit-name': 'throttle_authenticated_git_http' } : {};
    if (rate?.limited) {
      this.sendText(res, record, 429, 'Retry later\n', rateHeaders);
      return;
    }
    const user = this.model.userById(token.userId);
    const project = this.model.findProject(route.projectPath, user.username);
    const gitDir = project && (route.wiki ? this.repos.wikiOf(project.id, false) : this.repos.repositoryOf(project.id));
    if (!gitDir) {
      this.sendText(res, record, 404, NOT_FOUND_TEXT, rateHeaders);
      return;
    }
    if (!token.scopes.some((scope) => scopesFor(route.service).includes(scope))) {
      const text =
        route.service === 'git-receive-pack'
          ? 'You are not allowed to push code to this project.\n'
          : 'You are not allowed to download code from this project.\n';
      this.sendText(res, record, 403, text, rateHeaders);
      return;
    }
    const cgi = { projectRoot: this.repos.root, pathInfo: `/${basename(gitDir)}${route.endpoint}`, queryString: route.queryString, remoteUser: user.username };
    this.backend.serve(req, res, { ...cgi, headers: rateHeaders }, (status) => {
      record.status = status;
      this.requests.push(record);
    });
  }

  private sendText(res: ServerResponse, record: RecordedRequest, status: number, text: string, headers: Record<string, string> = {}): void {
    record.status = status;
    this.requests.push(record);
    res.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  /**
   * A write's parameters, as GitLab takes them: a JSON object, or a form (the query string's
   * parameters too, as Grape merges them). A body over the limit is refused with 413 unread.
   */
  private readBody(req: IncomingMessage, res: ServerResponse, record: RecordedRequest, answer: (body: Record<string, unknown>) => Answer): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_WRITE_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_WRITE_BYTES) return this.send(res, record, { status: 413, body: { message: '413 Request Entity Too Large' } });
      const text = Buffer.concat(chunks).toString();
      let params: Record<string, unknown>;
      try {
        const parsed: unknown = (req.headers['content-type'] ?? '').includes('application/json') && text !== '' ? JSON.parse(text) : undefined;
        if (parsed !== undefined && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))) throw new Error('not an object');
        params = { ...record.query, ...(parsed ?? Object.fromEntries(new URLSearchParams(text))) };
      } catch {
        return this.send(res, record, { status: 400, body: { error: 'The request body is not valid JSON' } });
      }
      try {
        this.send(res, record, answer(params));
      } catch (error) {
        this.send(res, record, { status: 500, body: { message: `500 Internal Server Error: ${String(error)}` } });
      }
    });
  }

  /** /oauth/token takes a form (as OAuth clients send) or JSON. */
  private tokenRequest(req: IncomingMessage, res: ServerResponse, record: RecordedRequest): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_FORM_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      let params: Record<string, string>;
      try {
        params = (req.headers['content-type'] ?? '').includes('application/json')
          ? stringValues(JSON.parse(text))
          : Object.fromEntries(new URLSearchParams(text));
      } catch {
        return this.send(res, record, { status: 400, body: { error: 'invalid_request', error_description: 'The body is not JSON.' } });
      }
      this.send(res, record, this.oauth.token(params, req.headers.authorization, Date.now()));
    });
  }

  private send(res: ServerResponse, record: RecordedRequest, answer: Answer): void {
    const html = typeof answer.body === 'string';
    const body = answer.body === null ? '' : html ? (answer.body as string) : JSON.stringify(answer.body);
    const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(body), ...answer.headers };
    if (answer.body !== null) headers['content-type'] = html ? 'text/html; charset=utf-8' : 'application/json';
    record.status = answer.status;
    this.requests.push(record);
    res.writeHead(answer.status, headers);
    res.end(body);
  }
}

function isGitPath(path: string): boolean {
  return gitRouteOf('GET', path, {}) !== undefined;
}

function credentialOf(req: IncomingMessage): { value: string; bearer: boolean } | undefined {
  const privateToken = req.headers['private-token'];
  if (typeof privateToken === 'string' && privateToken !== '') return { value: privateToken, bearer: false };
  const authorization = req.headers.authorization;
  if (authorization && /^bearer /i.test(authorization)) return { value: authorization.slice(7).trim(), bearer: true };
  return undefined;
}

/** 'groups/acme%2Fplatform/projects' → ['groups', 'acme/platform', 'projects']; undefined when not decodable. */
function decodeSegments(rest: string): string[] | undefined {
  try {
    return rest.split('/').map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

function stringValues(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) throw new Error('not an object');
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, String(v)]));
}

function oneYearFromToday(): string {
  const date = new Date(`${todayUtc()}T00:00:00Z`);
  date.setUTCFullYear(date.getUTCFullYear() + 1);
  return todayUtc(date.getTime());
}
