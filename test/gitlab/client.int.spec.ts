import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { GitLabClient, type GitLabClientOptions } from '../../src/gitlab/client';
import { CredentialPool } from '../../src/gitlab/credential-pool';
import { GitLabError, type GitLabProject } from '../../src/gitlab/types';
import { verifyOAuthToken, verifyToken } from '../../src/gitlab/verify';
import { eventually } from '../support/eventually';
import { GitLabDouble } from '../support/gitlab-double';

jest.setTimeout(20_000);

/** A port nothing listens on: taken from the OS, then let go. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function failure(promise: Promise<unknown>): Promise<GitLabError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GitLabError) return error;
    throw new Error(`expected a GitLabError, got ${inspect(error)}`);
  }
  throw new Error('expected a failure');
}

/** Every way an error could be shown, logged or stored. */
function renderings(error: Error): string[] {
  return [error.message, String(error), JSON.stringify(error), inspect(error, { depth: 10 }), error.stack ?? ''];
}

describe('GitLabClient against the GitLab double', () => {
  let gitlab: GitLabDouble;
  let alice: string;
  const client = (token: string, options: GitLabClientOptions = {}) =>
    new GitLabClient({ baseUrl: gitlab.url, token }, { maxRetryMs: 500, timeoutMs: 2_000, ...options });

  beforeAll(async () => {
    gitlab = await GitLabDouble.start();
    gitlab.addUser('alice');
    gitlab.addUser('bob');
    alice = gitlab.addToken('alice');
    gitlab.addGroup('acme', { members: ['alice'] });
    gitlab.addGroup('acme/platform');
    gitlab.addGroup('acme/platform/core');
    gitlab.addGroup('acme/web');
    gitlab.addProject('acme', 'handbook', { branches: 5, tags: 3, issues: 4, mergeRequests: 2 });
    gitlab.addProject('acme/platform', 'api');
    gitlab.addProject('acme/platform/core', 'engine');
    gitlab.addProject('acme/platform/core', 'scheduler');
    gitlab.addProject('acme/web', 'site');
    gitlab.addProject('acme/web', 'docs');
    gitlab.addProject('acme', 'infra');
  });

  afterAll(async () => {
    await gitlab?.close();
  });

  afterEach(() => {
    gitlab.clearFaults();
    gitlab.setRateLimit(null);
  });

  describe('verifyToken', () => {
    it('accepts a token of the login that sees the group', async () => {
      const result = await verifyToken(client(alice), { login: 'Alice', groupPath: 'acme' });
      expect(result).toEqual({
        ok: true,
        login: 'alice',
        scopes: expect.arrayContaining(['read_api', 'read_repository']),
        expiresAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
        gitlabUserId: expect.any(Number),
        groupId: expect.any(Number),
      });
    });

    it('accepts a token with api alone, which grants both scopes', async () => {
      const token = gitlab.addToken('alice', { scopes: ['api'], expiresAt: null });
      await expect(verifyToken(client(token), { login: 'alice' })).resolves.toMatchObject({ ok: true, scopes: ['api'], expiresAt: null, groupId: null });
    });

    it('refuses a revoked token', async () => {
      const token = gitlab.addToken('alice');
      gitlab.revokeToken(token);
      const result = await verifyToken(client(token), { login: 'alice' });
      expect(result).toMatchObject({ ok: false, failure: 'INVALID_TOKEN', reason: expect.stringContaining('invalid or revoked') });
    });

    it('refuses an expired token', async () => {
      const token = gitlab.addToken('alice', { expiresAt: '2020-01-01' });
      const result = await verifyToken(client(token), { login: 'alice' });
      // GitLab answers 401 for an expired token, as for a revoked one, unless its body says which.
      expect(result).toMatchObject({ ok: false, failure: 'INVALID_TOKEN', reason: expect.stringContaining('expired') });
    });

    it('names the missing scopes', async () => {
      const noRepository = gitlab.addToken('alice', { scopes: ['read_api'] });
      await expect(verifyToken(client(noRepository), { login: 'alice' })).resolves.toEqual({
        ok: false,
        failure: 'MISSING_SCOPES',
        reason: 'the token lacks the scopes read_repository: create a token with read_api and read_repository',
      });
      const neither = gitlab.addToken('alice', { scopes: ['read_user'] });
      await expect(verifyToken(client(neither), { login: 'alice' })).resolves.toMatchObject({
        failure: 'MISSING_SCOPES',
        reason: expect.stringContaining('lacks the scopes read_api, read_repository'),
      });
    });

    it('refuses a token of another user', async () => {
      await expect(verifyToken(client(alice), { login: 'bob' })).resolves.toEqual({
        ok: false,
        failure: 'LOGIN_MISMATCH',
        reason: expect.stringContaining('the token belongs to GitLab user alice, not bob'),
      });
    });

    it('refuses a group the user cannot see, as one that does not exist', async () => {
      const bob = gitlab.addToken('bob');
      for (const groupPath of ['acme', 'nowhere']) {
        const result = await verifyToken(client(bob), { login: 'bob', groupPath });
        expect(result).toMatchObject({ ok: false, failure: 'GROUP_NOT_FOUND', reason: expect.stringContaining(`no group ${groupPath} that bob can see`) });
      }
    });

    it('says so when GitLab does not answer at all', async () => {
      const port = await closedPort();
      const down = new GitLabClient({ baseUrl: `http://127.0.0.1:${port}`, token: alice }, { maxRetryMs: 300 });
      const result = await verifyToken(down, { login: 'alice', groupPath: 'acme' });
      expect(result).toMatchObject({ ok: false, failure: 'UNREACHABLE', reason: expect.stringContaining(`GitLab at http://127.0.0.1:${port} did not answer`) });
      expect(JSON.stringify(result)).not.toContain(alice);
    });

    it('verifies an OAuth token by its user and group, the login being whoever GitLab says', async () => {
      const oauth = new GitLabClient({ baseUrl: gitlab.url, token: alice, kind: 'oauth' });
      await expect(verifyOAuthToken(oauth, { groupPath: 'acme/platform', scopes: ['read_api', 'read_repository'] })).resolves.toMatchObject({
        ok: true,
        login: 'alice',
        scopes: ['read_api', 'read_repository'],
        expiresAt: null,
        groupId: expect.any(Number),
      });
      const sent = gitlab.requests.filter((r) => r.username === 'alice').slice(-2);
      expect(sent.map((r) => r.path)).toEqual(['/api/v4/user', '/api/v4/groups/acme%2Fplatform']);
    });
  });

  describe('rate limits', () => {
    it("waits out a 429 for as long as Retry-After says in 'wait' mode", async () => {
      const token = gitlab.addToken('alice');
      gitlab.setRateLimit({ limit: 2, windowMs: 1_000 }, token);
      const waiting = client(token, { rateLimit: 'wait' });
      const statuses: number[] = [];
      const seen = new GitLabClient({ baseUrl: gitlab.url, token }, { onResponse: ({ status }) => statuses.push(status) });
      // Spend the window's quota, then ask once more: refused, waited, answered.
      await seen.currentUser();
      await seen.currentUser();
      const before = gitlab.requests.length;
      await expect(waiting.currentUser()).resolves.toMatchObject({ username: 'alice' });
      const after = gitlab.requests.slice(before);
      const refused = after.find((r) => r.status === 429);
      const answered = after.find((r) => r.status === 200);
      if (refused && answered) {
        // The window may have ended between the calls; when it did not, the wait is Retry-After (1 s here).
        expect(answered.at - refused.at).toBeGreaterThanOrEqual(950);
      } else {
        expect(answered).toBeDefined();
      }
      expect(waiting.requests).toBe(after.length);
      expect(waiting.rateLimit).toMatchObject({ limit: 2, remaining: expect.any(Number), resetAt: expect.any(Date) });
      expect(statuses).toEqual([200, 200]);
    });

    it("throws RATE_LIMITED with retryAfterMs at once in 'fail' mode", async () => {
      const token = gitlab.addToken('alice');
      gitlab.setRateLimit({ limit: 1, windowMs: 2_000 }, token);
      const failing = client(token, { rateLimit: 'fail' });
      let error: GitLabError | undefined;
      // Two calls may straddle a window's end; three cannot all fit in one of 1.
      for (let i = 0; i < 3 && !error; i++) {
        error = await failing.currentUser().then(
          () => undefined,
          (e: unknown) => e as GitLabError,
        );
      }
      expect(error).toBeInstanceOf(GitLabError);
      expect(error).toMatchObject({ failure: 'RATE_LIMITED', code: 'GITLAB_RATE_LIMITED', details: { status: 429, rateLimit: { limit: 1, remaining: 0 } } });
      expect(error!.details.retryAfterMs).toBeGreaterThan(0);
      expect(error!.details.retryAfterMs).toBeLessThanOrEqual(2_000);
      expect(error!.message).toMatch(/GET \/api\/v4\/user with 429/);
    });
  });

  describe('failures', () => {
    let projectId: number;
    beforeAll(async () => {
      projectId = (await client(alice).groupProjectsPage((await client(alice).group('acme')).id, 1, 1)).items[0]!.id;
    });

    it('retries 5xx answers with backoff, then takes the answer', async () => {
      gitlab.fault({ match: (r) => r.path === `/api/v4/projects/${projectId}`, status: 502, times: 2 });
      const c = client(alice, { maxRetryMs: 5_000 });
      await expect(c.project(projectId)).resolves.toMatchObject({ id: projectId, fullPath: 'acme/handbook', name: 'handbook' });
      expect(c.requests).toBe(3);
      const statuses = gitlab.requests
        .filter((r) => r.path === `/api/v4/projects/${projectId}`)
        .slice(-3)
        .map((r) => r.status);
      expect(statuses).toEqual([502, 502, 200]);
    });

    it('retries a dropped connection', async () => {
      gitlab.fault({ match: (r) => r.path === `/api/v4/projects/${projectId}`, hangUp: true, times: 1 });
      const c = client(alice, { maxRetryMs: 5_000 });
      await expect(c.project(projectId)).resolves.toMatchObject({ id: projectId });
      expect(c.requests).toBe(2);
    });

    it('gives up on persistent 5xx after maxRetryMs with SERVER_ERROR', async () => {
      gitlab.fault({ match: (r) => r.path === `/api/v4/projects/${projectId}`, status: 503 });
      const c = client(alice, { maxRetryMs: 600 });
      const started = Date.now();
      const error = await failure(c.project(projectId));
      const took = Date.now() - started;
      expect(error).toMatchObject({ failure: 'SERVER_ERROR', details: { status: 503 } });
      expect(error.message).toContain(`GET /api/v4/projects/${projectId} with 503`);
      expect(took).toBeGreaterThanOrEqual(600);
      // It gives up, rather than retrying on: the bound leaves room for a busy machine.
      expect(took).toBeLessThan(10_000);
      expect(c.requests).toBeGreaterThan(1);
    });

    it('stops retrying at once with ABORTED when its signal is aborted, and asks beforeRetry before each retry', async () => {
      gitlab.fault({ match: (r) => r.path === `/api/v4/projects/${projectId}`, status: 503 });
      const stop = new AbortController();
      let retries = 0;
      const c = client(alice, {
        maxRetryMs: 60_000,
        signal: stop.signal,
        beforeRetry: async () => {
          retries += 1;
        },
      });
      const call = failure(c.project(projectId));
      await eventually(() => expect(c.requests).toBeGreaterThan(1), 10_000, 5);
      stop.abort();
      const error = await call;
      expect(error).toMatchObject({ failure: 'ABORTED', code: 'GITLAB_ABORTED' });
      // Every attempt after the first was a retry that beforeRetry let through.
      expect(retries).toBe(c.requests - 1);
      const sent = c.requests;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(c.requests).toBe(sent);
    });

    it('gives up on an answer later than timeoutMs with TIMEOUT', async () => {
      gitlab.fault({ match: (r) => r.path === '/api/v4/user', delayMs: 1_500 });
      const c = client(alice, { timeoutMs: 200, maxRetryMs: 300 });
      const error = await failure(c.currentUser());
      expect(error.failure).toBe('TIMEOUT');
      expect(error.message).toContain('did not answer GET /api/v4/user within 200 ms');
    });

    it('fails at once on 401, 403 and 404, without retrying', async () => {
      const c = client('not-a-token');
      await expect(c.currentUser()).rejects.toMatchObject({ failure: 'UNAUTHORIZED', details: { status: 401 } });
      const scopeless = gitlab.addToken('alice', { scopes: ['read_repository'] });
      await expect(client(scopeless).group('acme')).rejects.toMatchObject({ failure: 'FORBIDDEN', details: { status: 403 } });
      const a = client(alice);
      await expect(a.project(999_999)).rejects.toMatchObject({ failure: 'NOT_FOUND', details: { status: 404 } });
      expect(a.requests).toBe(1);
    });

    it('never lets a token into an error, and never lets gitbeaker’s request escape', async () => {
      const secret = gitlab.addToken('alice', { token: 'glpat-SECRETSECRETSECRET1' });
      const bad = 'glpat-NOTATOKENNOTATOKEN2';
      const port = await closedPort();
      const errors: GitLabError[] = [];
      errors.push(await failure(client(bad).currentUser()));
      errors.push(await failure(client(secret).project(999_999)));
      errors.push(await failure(client(secret).group('nowhere/at/all')));
      gitlab.fault({ match: (r) => r.path === '/api/v4/user', status: 500 });
      errors.push(await failure(client(secret, { maxRetryMs: 100 }).currentUser()));
      gitlab.clearFaults();
      gitlab.fault({ match: (r) => r.path === '/api/v4/user', delayMs: 1_000 });
      errors.push(await failure(client(secret, { timeoutMs: 100, maxRetryMs: 100 }).currentUser()));
      gitlab.clearFaults();
      errors.push(await failure(new GitLabClient({ baseUrl: `http://127.0.0.1:${port}`, token: secret }, { maxRetryMs: 100 }).currentUser()));
      errors.push(await failure(new GitLabClient({ baseUrl: `http://127.0.0.1:${port}`, token: secret, kind: 'oauth' }, { maxRetryMs: 100 }).currentUser()));
      gitlab.setRateLimit({ limit: 0, windowMs: 1_000 }, secret);
      errors.push(await failure(client(secret, { rateLimit: 'fail' }).currentUser()));

      expect(errors.map((e) => e.failure)).toEqual([
        'UNAUTHORIZED',
        'NOT_FOUND',
        'NOT_FOUND',
        'SERVER_ERROR',
        'TIMEOUT',
        'UNREACHABLE',
        'UNREACHABLE',
        'RATE_LIMITED',
      ]);
      for (const error of errors) {
        expect(error.cause).toBeUndefined();
        for (const text of renderings(error)) {
          expect(text).not.toContain(secret);
          expect(text).not.toContain(bad);
          expect(text).not.toContain('SECRETSECRET');
        }
      }
      // Nor does a client show its token.
      const c = client(secret);
      expect(JSON.stringify(c)).not.toContain(secret);
      expect(inspect(c, { depth: 10, showHidden: true })).not.toContain(secret);
    });
  });

  describe('paging', () => {
    it('pages through the projects of a group and its subgroups, by id', async () => {
      const c = client(alice);
      const acme = await c.group('acme');
      const projects: GitLabProject[] = [];
      const pages: (number | null)[] = [];
      for (let page: number | null = 1; page !== null; ) {
        const answer = await c.groupProjectsPage(acme.id, page, 3);
        projects.push(...answer.items);
        pages.push(answer.nextPage);
        page = answer.nextPage;
      }
      expect(pages).toEqual([2, 3, null]);
      expect(projects.map((p) => p.fullPath)).toEqual([
        'acme/handbook',
        'acme/platform/api',
        'acme/platform/core/engine',
        'acme/platform/core/scheduler',
        'acme/web/site',
        'acme/web/docs',
        'acme/infra',
      ]);
      expect(projects.map((p) => p.id)).toEqual([...projects.map((p) => p.id)].sort((a, b) => a - b));
      // One request per page: gitbeaker does not follow the Link header when a page is asked for.
      expect(c.requests).toBe(4);
      const sent = gitlab.requests.filter((r) => r.path === `/api/v4/groups/${acme.id}/projects`).slice(-1)[0]!;
      expect(sent.query).toMatchObject({ include_subgroups: 'true', order_by: 'id', sort: 'asc', page: '3', per_page: '3' });
    });

    it('pages through descendant groups', async () => {
      const c = client(alice);
      const acme = await c.group('acme');
      const first = await c.descendantGroupsPage(acme.id, 1, 2);
      const second = await c.descendantGroupsPage(acme.id, 2, 2);
      expect(first).toEqual({
        items: [expect.objectContaining({ fullPath: 'acme/platform' }), expect.objectContaining({ fullPath: 'acme/platform/core' })],
        nextPage: 2,
      });
      expect(second).toEqual({ items: [{ id: expect.any(Number), fullPath: 'acme/web' }], nextPage: null });
    });

    it("pages through a project's branches, tags, issues and merge requests", async () => {
      const c = client(alice);
      const handbook = (await c.groupProjectsPage((await c.group('acme')).id, 1, 1)).items[0]!;
      const all = async (list: 'branches' | 'tags' | 'issues' | 'mergeRequests') => {
        const items: unknown[] = [];
        for (let page: number | null = 1; page !== null; ) {
          const answer = await c.projectListPage(list, handbook.id, page, 2);
          items.push(...answer.items);
          page = answer.nextPage;
        }
        return items;
      };
      expect(await all('branches')).toHaveLength(5);
      expect(await all('tags')).toHaveLength(3);
      expect(await all('issues')).toEqual(expect.arrayContaining([expect.objectContaining({ iid: 4, project_id: handbook.id })]));
      expect(await all('mergeRequests')).toHaveLength(2);
    });
  });

  describe('a pool of credentials', () => {
    it('reaches every project through three rate-limited tokens with few or no 429s', async () => {
      const users = ['carol', 'dave', 'erin'];
      for (const user of users) gitlab.addUser(user);
      gitlab.addGroup('fleet', { members: users });
      const ids: number[] = [];
      for (let i = 0; i < 36; i++) ids.push(gitlab.addProject('fleet', `repo-${i}`).id);
      // Windows of 3 s: a busy machine that stalls for a moment stalls within one, and the reset
      // GitLab states in whole seconds is a small part of it.
      const limit = { limit: 6, windowMs: 3_000 };

      const pool = new CredentialPool<GitLabClient>();
      const tokens: string[] = [];
      for (const user of users) {
        const token = gitlab.addToken(user);
        tokens.push(token);
        gitlab.setRateLimit(limit, token);
        pool.add({ key: user, client: client(token, { rateLimit: 'fail', onResponse: ({ rateLimit }) => pool.observe(user, rateLimit) }) });
      }
      const before = gitlab.requests.length;
      const started = Date.now();

      const seen = new Map<number, string>();
      let next = 0;
      const worker = async () => {
        while (next < ids.length) {
          const id = ids[next++]!;
          const project = await pool.run((m) => m.client.project(id));
          seen.set(project.id, project.fullPath);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      const took = Date.now() - started;

      expect([...seen.keys()].sort((a, b) => a - b)).toEqual(ids);
      const sent = gitlab.requests.slice(before);
      // Few 429s: at most one per token, at the edge of a window.
      const refused = sent.filter((r) => r.status === 429);
      expect(refused.length).toBeLessThanOrEqual(users.length);
      for (const user of users) expect(refused.filter((r) => r.username === user).length).toBeLessThanOrEqual(1);
      // 36 requests at 3 × 6 a window: two windows' worth (three when the first is entered late);
      // one token at a time would need six.
      const windows = new Set(sent.filter((r) => r.status === 200).map((r) => Math.floor(r.at / limit.windowMs)));
      expect(windows.size).toBeLessThanOrEqual(3);
      expect(took).toBeLessThan(4 * limit.windowMs);
      for (const { key, requests } of pool.usage()) {
        expect(requests).toBeGreaterThanOrEqual(6);
        expect(sent.filter((r) => r.username === key && r.status === 200).length).toBeGreaterThan(0);
      }
    });
  });
});
