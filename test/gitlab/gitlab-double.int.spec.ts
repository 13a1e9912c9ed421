// The GitLab double, driven by the real gitbeaker client (and fetch for what a browser does), so
// that the tests written against it exercise GitLab's protocol and not the double's guesses.
import { createHash, randomBytes } from 'node:crypto';
import { Gitlab } from '@gitbeaker/rest';
import { eventually } from '../support/eventually';
import { GitLabDouble } from '../support/gitlab-double';

type Client = InstanceType<typeof Gitlab>;

/** The HTTP status of a gitbeaker call that failed (its error carries the response). */
async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
  } catch (error) {
    const status = (error as { cause?: { response?: Response } }).cause?.response?.status;
    if (status === undefined) throw error;
    return status;
  }
  throw new Error('the call succeeded');
}

interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
  created_at: number;
  scope: string;
}

async function tokenResponse(response: Response): Promise<TokenResponse> {
  return (await response.json()) as TokenResponse;
}

function yesterday(): string {
  return new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
}

describe('GitLab double', () => {
  let double: GitLabDouble;
  let alice: string;
  let bob: string;
  let api: Client;
  /** Projects of acme at any depth, by id. */
  let acmeProjects: number[];
  let directProjects: number[];

  beforeAll(async () => {
    double = await GitLabDouble.start();
    double.addUser('alice');
    double.addUser('bob');
    alice = double.addToken('alice', { name: 'backup' });
    bob = double.addToken('bob');
    double.addGroup('acme', { members: ['alice'] });
    double.addGroup('acme/platform');
    double.addGroup('acme/platform/infra');
    double.addGroup('other', { members: ['bob'] });
    directProjects = [1, 2, 3].map((n) => double.addProject('acme', `web-${n}`).id);
    const deeper = [1, 2, 3, 4].map((n) => double.addProject('acme/platform', `svc-${n}`).id);
    const deepest = [1, 2, 3, 4].map((n) => double.addProject('acme/platform/infra', `tool-${n}`).id);
    double.addProject('other', 'elsewhere');
    acmeProjects = [...directProjects, ...deeper, ...deepest];
    api = new Gitlab({ host: double.url, token: alice });
  });

  afterAll(() => double.close());
  beforeEach(() => {
    double.clearFaults();
    double.resetRequests();
  });

  describe('tokens and visibility', () => {
    it('describes the token and its user', async () => {
      const self = await api.PersonalAccessTokens.show();
      expect(self).toMatchObject({ name: 'backup', revoked: false, active: true, scopes: ['api', 'read_api', 'read_repository'] });
      expect(self.expires_at).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      const user = await api.Users.showCurrentUser();
      expect(user).toMatchObject({ username: 'alice', state: 'active', id: self.user_id });
      expect(double.requests.map((r) => [r.path, r.username, r.status])).toEqual([
        ['/api/v4/personal_access_tokens/self', 'alice', 200],
        ['/api/v4/user', 'alice', 200],
      ]);
    });

    it('shows a group by path or id to its members only, and its subgroups to them too', async () => {
      const acme = await api.Groups.show('acme');
      const platform = await api.Groups.show('acme/platform');
      expect(platform).toMatchObject({ full_path: 'acme/platform', path: 'platform', parent_id: acme.id });
      expect((await api.Groups.show(platform.id)).full_path).toBe('acme/platform');
      expect(double.requests[1].path).toBe('/api/v4/groups/acme%2Fplatform');

      const asBob = new Gitlab({ host: double.url, token: bob });
      expect(await statusOf(asBob.Groups.show('acme/platform'))).toBe(404);
      expect(await statusOf(asBob.Projects.show(acmeProjects[0]))).toBe(404);
      expect((await asBob.Groups.show('other')).full_path).toBe('other');

      const descendants = await api.Groups.allDescendantGroups('acme', { perPage: 1 });
      expect(descendants.map((g) => g.full_path)).toEqual(['acme/platform', 'acme/platform/infra']);
    });

    it('refuses missing, unknown, revoked and expired tokens with 401', async () => {
      const revoked = double.addToken('alice');
      double.revokeToken(revoked);
      const expired = double.addToken('alice', { expiresAt: yesterday() });
      const endsToday = double.addToken('alice', { expiresAt: new Date().toISOString().slice(0, 10) });
      for (const token of [revoked, expired, 'dbl-unknown']) {
        expect(await statusOf(new Gitlab({ host: double.url, token }).Users.showCurrentUser())).toBe(401);
      }
      expect((await new Gitlab({ host: double.url, token: endsToday }).Users.showCurrentUser()).username).toBe('alice');
      const anonymous = await fetch(`${double.url}/api/v4/user`);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toEqual({ message: '401 Unauthorized' });
      expect(double.requests.map((r) => [r.username, r.status])).toEqual([
        ['alice', 401],
        ['alice', 401],
        [null, 401],
        ['alice', 200],
        [null, 401],
      ]);
    });

    it('accepts a personal access token as a Bearer token too, and answers 403 without a reading scope', async () => {
      const bearer = await fetch(`${double.url}/api/v4/groups/acme`, { headers: { authorization: `Bearer ${alice}` } });
      expect(bearer.status).toBe(200);
      const repositoryOnly = double.addToken('alice', { scopes: ['read_repository'] });
      expect(await statusOf(new Gitlab({ host: double.url, token: repositoryOnly }).Groups.show('acme'))).toBe(403);
    });
  });

  describe('projects', () => {
    it('lists every project of a group and its subgroups once, following the Link header over offset pages', async () => {
      const { data, paginationInfo } = await api.Groups.allProjects('acme', { includeSubgroups: true, perPage: 5, showExpanded: true });
      expect(data.map((p) => p.id)).toEqual(acmeProjects);
      expect(paginationInfo).toMatchObject({ total: 11, totalPages: 3, current: 3, next: null, previous: 2, perPage: 5 });
      expect(double.requests.map((r) => r.query.page)).toEqual([undefined, '2', '3']);
      expect(double.requests.every((r) => r.query.include_subgroups === 'true')).toBe(true);
      expect(data[4]).toMatchObject({
        path_with_namespace: 'acme/platform/svc-2',
        namespace: { full_path: 'acme/platform' },
        default_branch: 'main',
        archived: false,
      });
    });

    it('answers one page alone when gitbeaker asks for a page', async () => {
      const { data, paginationInfo } = await api.Groups.allProjects('acme', { includeSubgroups: true, perPage: 5, page: 2, showExpanded: true });
      expect(data.map((p) => p.id)).toEqual(acmeProjects.slice(5, 10));
      expect(paginationInfo).toMatchObject({ total: 11, current: 2, next: 3, previous: 1 });
      expect(double.requests).toHaveLength(1);
    });

    it('sends GitLab offset headers and absolute links', async () => {
      const response = await fetch(`${double.url}/api/v4/groups/acme/projects?include_subgroups=true&per_page=4&page=2`, {
        headers: { 'private-token': alice },
      });
      const h = (name: string) => response.headers.get(name);
      expect([h('x-page'), h('x-per-page'), h('x-next-page'), h('x-prev-page'), h('x-total'), h('x-total-pages')]).toEqual(['2', '4', '3', '1', '11', '3']);
      const links = Object.fromEntries([...h('link')!.matchAll(/<([^>]+)>; rel="(\w+)"/g)].map(([, url, rel]) => [rel, new URL(url)]));
      expect(Object.keys(links).sort()).toEqual(['first', 'last', 'next', 'prev']);
      expect(links.next.origin).toBe(double.url);
      expect(links.next.pathname).toBe('/api/v4/groups/acme/projects');
      expect(Object.fromEntries(links.last.searchParams)).toEqual({ include_subgroups: 'true', per_page: '4', page: '3' });
      const last = await fetch(links.last, { headers: { 'private-token': alice } });
      expect(last.headers.get('x-next-page')).toBe('');
      expect(last.headers.get('link')).not.toContain('rel="next"');
    });

    it('lists direct projects only without include_subgroups', async () => {
      expect((await api.Groups.allProjects('acme')).map((p) => p.id)).toEqual(directProjects);
    });

    it('lists every project once with keyset pagination, by id_after', async () => {
      const projects = await api.Groups.allProjects('acme', { includeSubgroups: true, pagination: 'keyset', orderBy: 'id', sort: 'asc', perPage: 4 });
      expect(projects.map((p) => p.id)).toEqual(acmeProjects);
      expect(double.requests.map((r) => r.query.id_after)).toEqual([undefined, String(acmeProjects[3]), String(acmeProjects[7])]);

      const response = await fetch(`${double.url}/api/v4/groups/acme/projects?include_subgroups=true&pagination=keyset&order_by=id&sort=asc&per_page=4`, {
        headers: { 'private-token': alice },
      });
      expect(response.headers.get('x-total')).toBeNull();
      expect(response.headers.get('link')).toMatch(
        new RegExp(`^<${double.url}/api/v4/groups/acme/projects\\?[^>]*id_after=${acmeProjects[3]}[^>]*>; rel="next"$`),
      );
    });

    it('follows a renamed project by id, and forgets a removed one', async () => {
      const { id } = double.addProject('acme', 'old-name');
      double.renameProject(id, 'new-name');
      expect(await api.Projects.show(id)).toMatchObject({ id, path: 'new-name', path_with_namespace: 'acme/new-name' });
      expect((await api.Projects.show('acme/new-name')).id).toBe(id);
      expect(await statusOf(api.Projects.show('acme/old-name'))).toBe(404);
      double.removeProject(id);
      expect(await statusOf(api.Projects.show(id))).toBe(404);
      expect((await api.Groups.allProjects('acme')).map((p) => p.id)).toEqual(directProjects);
    });

    it('pages through branches, tags, issues and merge requests', async () => {
      const { id } = double.addProject('other', 'busy', { branches: 45, tags: 3, issues: 0, mergeRequests: 101 });
      const asBob = new Gitlab({ host: double.url, token: bob });
      const branches = await asBob.Branches.all(id, { perPage: 20 });
      expect(branches).toHaveLength(45);
      expect(new Set(branches.map((b) => b.name)).size).toBe(45);
      expect(branches[0]).toMatchObject({ name: 'main', commit: { id: expect.stringMatching(/^[0-9a-f]{40}$/) } });
      expect(await asBob.Tags.all(id)).toHaveLength(3);
      expect(await asBob.Issues.all({ projectId: id })).toEqual([]);
      const mergeRequests = await asBob.MergeRequests.all({ projectId: id, perPage: 100, orderBy: 'created_at', sort: 'asc' });
      expect(mergeRequests.map((mr) => mr.iid)).toEqual(Array.from({ length: 101 }, (_, i) => i + 1));
      expect(mergeRequests[0]).toMatchObject({ state: 'opened', title: expect.any(String) });
      // 3 pages of branches, 1 of tags, 1 of issues, 2 of merge requests.
      expect(double.requests).toHaveLength(7);
      expect(double.requests.every((r) => r.status === 200 && r.username === 'bob')).toBe(true);
    });
  });

  describe('project metadata', () => {
    let id: number;
    const get = (path: string, token = bob) => fetch(`${double.url}/api/v4/projects/${id}/${path}`, { headers: { 'private-token': token } });

    beforeAll(() => {
      id = double.addProject('other', 'kept', { tags: 2, issues: 6, mergeRequests: 4, labels: 3, milestones: 2, releases: 5, notes: 4 }).id;
    });

    it('lists issues and merge requests newest first by default, in every state, and oldest first when asked', async () => {
      const asBob = new Gitlab({ host: double.url, token: bob });
      expect((await asBob.Issues.all({ projectId: id })).map((i) => i.iid)).toEqual([6, 5, 4, 3, 2, 1]);
      expect((await asBob.Issues.all({ projectId: id, sort: 'asc' })).map((i) => [i.iid, i.state])).toEqual([
        [1, 'opened'],
        [2, 'opened'],
        [3, 'closed'],
        [4, 'opened'],
        [5, 'opened'],
        [6, 'closed'],
      ]);
      expect((await asBob.Issues.all({ projectId: id, state: 'closed' })).map((i) => i.iid)).toEqual([6, 3]);
      expect((await asBob.MergeRequests.all({ projectId: id, state: 'merged' })).map((m) => m.iid)).toEqual([3]);
      expect((await asBob.MergeRequests.all({ projectId: id, state: 'opened', sort: 'asc' })).map((m) => m.iid)).toEqual([1, 2, 4]);
    });

    it("answers 400 with GitLab's words for a value a list does not take", async () => {
      for (const [path, error] of [
        ['issues?state=open', 'state does not have a valid value'],
        ['merge_requests?sort=up', 'sort does not have a valid value'],
        ['releases?order_by=name', 'order_by does not have a valid value'],
        ['issues/1/notes?sort=newest', 'sort does not have a valid value'],
        ['issues/first/notes', 'noteable_id is invalid'],
      ]) {
        const response = await get(path!);
        expect([response.status, await response.json()]).toEqual([400, { error }]);
      }
    });

    it('pages labels, milestones and notes with the offset headers of every list', async () => {
      const labels = await get('labels?per_page=2');
      expect([labels.headers.get('x-total'), labels.headers.get('x-total-pages'), labels.headers.get('x-next-page')]).toEqual(['3', '2', '2']);
      expect(labels.headers.get('link')).toContain('rel="next"');
      const page = (await labels.json()) as { name: string; color: string }[];
      expect(page).toHaveLength(2);
      const milestones = (await (await get('milestones')).json()) as { iid: number }[];
      expect(milestones.map((m) => m.iid)).toEqual([1, 2]);
      expect((await (await get('milestones?state=closed')).json()) as unknown[]).toEqual([]);
      const notes = await get('merge_requests/2/notes?per_page=3');
      expect(notes.headers.get('x-total')).toBe('4');
      // GitLab's default: newest first.
      const newest = (await notes.json()) as { id: number; noteable_iid: number; created_at: string }[];
      expect(newest.map((n) => n.noteable_iid)).toEqual([2, 2, 2]);
      expect(newest.map((n) => n.created_at)).toEqual(
        newest
          .map((n) => n.created_at)
          .sort()
          .reverse(),
      );
    });

    it('answers 404 for the notes of an issue or merge request that does not exist, and for a project not visible', async () => {
      const cases: [string, string, string][] = [
        ['issues/7/notes', bob, '404 Issue Not Found'],
        ['issues/0/notes', bob, '404 Issue Not Found'],
        ['merge_requests/5/notes', bob, '404 MergeRequest Not Found'],
        ['labels', alice, '404 Project Not Found'],
      ];
      for (const [path, token, message] of cases) {
        const response = await get(path, token);
        expect([path, response.status, await response.json()]).toEqual([path, 404, { message }]);
      }
    });

    it('has a release on each tag at most, newest first by default', async () => {
      const releases = (await (await get('releases')).json()) as { tag_name: string; released_at: string }[];
      expect(releases.map((r) => r.tag_name)).toEqual(['v1.1.0', 'v1.0.0']);
      const tags = (await (await get('repository/tags')).json()) as { name: string }[];
      expect(tags.map((t) => t.name)).toEqual(expect.arrayContaining(releases.map((r) => r.tag_name)));
    });

    it('refuses counts out of range', () => {
      expect(() => double.addProject('other', 'too-many', { notes: 1000 })).toThrow(/notes/);
      expect(() => double.addProject('other', 'negative', { labels: -1 })).toThrow(/labels/);
    });
  });

  describe('rate limits', () => {
    const get = (token: string) => fetch(`${double.url}/api/v4/user`, { headers: { 'private-token': token } });

    afterEach(() => double.setRateLimit(null));

    it('sends no RateLimit headers without a rule', async () => {
      expect((await get(alice)).headers.get('ratelimit-limit')).toBeNull();
    });

    it('counts requests per token in windows aligned on the epoch, and refuses the one beyond with 429', async () => {
      const token = double.addToken('alice');
      double.setRateLimit({ limit: 3, windowMs: 3_600_000 });
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await get(token));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
      expect(answers.map((a) => a.headers.get('ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
      expect(answers.map((a) => a.headers.get('ratelimit-observed'))).toEqual(['1', '2', '3', '4']);
      const refused = answers[3];
      const reset = Number(refused.headers.get('ratelimit-reset'));
      expect(reset % 3600).toBe(0);
      expect(refused.headers.get('ratelimit-limit')).toBe('3');
      expect(refused.headers.get('ratelimit-resettime')).toBe(new Date(reset * 1000).toUTCString());
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBe(Math.ceil((reset * 1000 - double.requests[3].at) / 1000));
      expect(await refused.json()).toEqual({ message: 'Retry later' });
      expect(answers[0].headers.get('retry-after')).toBeNull();
      // Another token has a quota of its own.
      expect((await get(bob)).status).toBe(200);
      expect(double.requests.map((r) => r.status)).toEqual([200, 200, 200, 429, 200]);
    });

    it('opens a new window on the next whole second', async () => {
      const token = double.addToken('alice');
      double.setRateLimit({ limit: 1, windowMs: 1000 }, token);
      const first = await get(token);
      const second = await get(token);
      if (first.headers.get('ratelimit-reset') !== second.headers.get('ratelimit-reset')) return; // crossed a window: nothing to learn
      expect(second.status).toBe(429);
      expect(second.headers.get('retry-after')).toBe('1');
      const reset = Number(second.headers.get('ratelimit-reset')) * 1000;
      await new Promise((resolve) => setTimeout(resolve, reset - Date.now() + 5));
      expect((await get(token)).status).toBe(200);
      // The per-token rule overrides the default, and other tokens follow the default (none).
      expect((await get(alice)).headers.get('ratelimit-limit')).toBeNull();
    });

    it('applies a per-token rule over the default', async () => {
      const token = double.addToken('alice');
      double.setRateLimit({ limit: 100, windowMs: 60_000 });
      double.setRateLimit({ limit: 7, windowMs: 60_000 }, token);
      expect((await get(token)).headers.get('ratelimit-limit')).toBe('7');
      expect((await get(alice)).headers.get('ratelimit-limit')).toBe('100');
      double.setRateLimit(null, token);
      expect((await get(token)).headers.get('ratelimit-limit')).toBe('100');
    });

    it('is met by gitbeaker with ten quick retries, each counted', async () => {
      const token = double.addToken('alice');
      double.setRateLimit({ limit: 0, windowMs: 3_600_000 }, token);
      await expect(new Gitlab({ host: double.url, token }).Users.showCurrentUser()).rejects.toThrow(/after 10 retries, last status code: 429/);
      expect(double.requests.map((r) => r.status)).toEqual(Array(10).fill(429));
    });
  });

  describe('faults', () => {
    it('answers with a status for as many matching requests as asked', async () => {
      double.fault({ match: (r) => r.path.endsWith('/user'), status: 500, times: 1 });
      expect(await statusOf(api.Users.showCurrentUser())).toBe(500);
      expect((await api.Users.showCurrentUser()).username).toBe('alice');
      expect(double.requests.map((r) => r.status)).toEqual([500, 200]);
    });

    it('matches on who asks, and lets gitbeaker retry a 502 through', async () => {
      double.fault({ match: (r) => r.username === 'alice', status: 502, times: 2 });
      expect((await new Gitlab({ host: double.url, token: bob }).Users.showCurrentUser()).username).toBe('bob');
      expect((await api.Users.showCurrentUser()).username).toBe('alice');
      expect(double.requests.map((r) => [r.username, r.status])).toEqual([
        ['bob', 200],
        ['alice', 502],
        ['alice', 502],
        ['alice', 200],
      ]);
    });

    it('holds an answer past the client timeout, and answers later', async () => {
      // Held long, so that the request after it is answered first however slow the machine is.
      double.fault({ match: () => true, delayMs: 3_000, times: 1 });
      const impatient = new Gitlab({ host: double.url, token: alice, queryTimeout: 100 });
      await expect(impatient.Users.showCurrentUser()).rejects.toThrow(/timeout/i);
      expect(double.requests).toHaveLength(0);
      // The held answer does not hold up the next request: it is answered while the first is still held.
      expect((await api.Users.showCurrentUser()).username).toBe('alice');
      expect(double.requests.map((r) => r.status)).toEqual([200]);
      await eventually(() => expect(double.requests.map((r) => r.status)).toEqual([200, 200]), 10_000);
      // The held one arrived first, and was answered last.
      expect(double.requests[1]!.at).toBeLessThan(double.requests[0]!.at);
    });

    it('delays a status too', async () => {
      double.fault({ match: () => true, delayMs: 150, status: 503 });
      const started = Date.now();
      const response = await fetch(`${double.url}/api/v4/user`, { headers: { 'private-token': alice } });
      expect(response.status).toBe(503);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    });

    it('hangs up without answering', async () => {
      double.fault({ match: (r) => r.path === '/api/v4/user', hangUp: true, times: 1 });
      await expect(fetch(`${double.url}/api/v4/user`, { headers: { 'private-token': alice } })).rejects.toThrow();
      expect(double.requests.map((r) => [r.username, r.status])).toEqual([['alice', 0]]);
      expect((await api.Users.showCurrentUser()).username).toBe('alice');
    });
  });

  describe('OAuth', () => {
    const clientId = 'backplane';
    const clientSecret = 'backplane-secret';
    const redirectUri = 'http://127.0.0.1:9/sso/callback';
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');

    beforeAll(() => double.addOAuthApplication(clientId, clientSecret, redirectUri));
    afterEach(() => double.setOAuthTokenLifetime(7200));

    const authorize = (params: Record<string, string> = {}) =>
      fetch(
        `${double.url}/oauth/authorize?${new URLSearchParams({
          client_id: clientId,
          redirect_uri: redirectUri,
          response_type: 'code',
          state: 'st-1',
          scope: 'read_api read_user',
          code_challenge: challenge,
          code_challenge_method: 'S256',
          ...params,
        })}`,
        { redirect: 'manual' },
      );

    async function code(): Promise<string> {
      double.signInAs('alice');
      const response = await authorize();
      expect(response.status).toBe(302);
      const location = new URL(response.headers.get('location')!);
      expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
      expect(location.searchParams.get('state')).toBe('st-1');
      return location.searchParams.get('code')!;
    }

    const token = (params: Record<string, string>) =>
      fetch(`${double.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: clientId, client_secret: clientSecret, ...params }),
      });

    it('refuses an unknown client, a foreign redirect URI, and nobody signed in', async () => {
      double.signInAs('alice');
      expect((await authorize({ client_id: 'stranger' })).status).toBe(400);
      expect((await authorize({ redirect_uri: 'http://127.0.0.1:9/elsewhere' })).status).toBe(400);
      double.signInAs(null);
      expect((await authorize()).status).toBe(401);
      expect(double.requests.map((r) => [r.path, r.status])).toEqual([
        ['/oauth/authorize', 400],
        ['/oauth/authorize', 400],
        ['/oauth/authorize', 401],
      ]);
    });

    it('exchanges a code once, for the right verifier only, for a token that acts as the user', async () => {
      const granted = await code();
      const wrong = await token({ grant_type: 'authorization_code', code: granted, redirect_uri: redirectUri, code_verifier: 'not-the-verifier' });
      expect(wrong.status).toBe(400);
      expect(await wrong.json()).toMatchObject({ error: 'invalid_grant' });
      const badSecret = await token({
        grant_type: 'authorization_code',
        code: granted,
        redirect_uri: redirectUri,
        code_verifier: verifier,
        client_secret: 'nope',
      });
      expect(badSecret.status).toBe(401);
      expect(await badSecret.json()).toMatchObject({ error: 'invalid_client' });

      const issued = await token({ grant_type: 'authorization_code', code: granted, redirect_uri: redirectUri, code_verifier: verifier });
      expect(issued.status).toBe(200);
      const body = await tokenResponse(issued);
      expect(body).toMatchObject({
        token_type: 'Bearer',
        expires_in: 7200,
        scope: 'read_api read_user',
        access_token: expect.any(String),
        refresh_token: expect.any(String),
      });
      expect(body.created_at).toBeCloseTo(Date.now() / 1000, -1);

      const replay = await token({ grant_type: 'authorization_code', code: granted, redirect_uri: redirectUri, code_verifier: verifier });
      expect(replay.status).toBe(400);
      expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });

      const asAlice = new Gitlab({ host: double.url, oauthToken: body.access_token });
      expect((await asAlice.Users.showCurrentUser()).username).toBe('alice');
      expect((await asAlice.Groups.show('acme')).full_path).toBe('acme');
      expect(await statusOf(asAlice.PersonalAccessTokens.show())).toBe(404);
      // An OAuth token is no private token.
      expect((await fetch(`${double.url}/api/v4/user`, { headers: { 'private-token': body.access_token } })).status).toBe(401);
    });

    it('rotates refresh tokens, and ends access tokens with their lifetime', async () => {
      double.setOAuthTokenLifetime(1);
      const first = await tokenResponse(
        await token({ grant_type: 'authorization_code', code: await code(), redirect_uri: redirectUri, code_verifier: verifier }),
      );
      expect(first.expires_in).toBe(1);
      const refreshed = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
      expect(refreshed.status).toBe(200);
      const second = await tokenResponse(refreshed);
      expect(second.access_token).not.toBe(first.access_token);
      expect(second.refresh_token).not.toBe(first.refresh_token);
      expect(second.scope).toBe('read_api read_user');
      const reused = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
      expect(reused.status).toBe(400);
      expect(await reused.json()).toMatchObject({ error: 'invalid_grant' });

      const user = (accessToken: string) => fetch(`${double.url}/api/v4/user`, { headers: { authorization: `Bearer ${accessToken}` } });
      expect((await user(second.access_token)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await user(second.access_token)).status).toBe(401);
    });
  });
});
