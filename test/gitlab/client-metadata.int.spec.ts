// What a backup reads of a project through GitLabClient (gitbeaker over real HTTP): its settings
// and its metadata, page by page, as GitLab sends them.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { GitLabClient } from '../../src/gitlab/client';
import { GitLabError, type MetadataList } from '../../src/gitlab/types';
import { GitLabDouble } from '../support/gitlab-double';

jest.setTimeout(20_000);

type Item = Record<string, unknown>;

async function failure(promise: Promise<unknown>): Promise<GitLabError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GitLabError) return error;
    throw new Error(`expected a GitLabError, got ${inspect(error)}`);
  }
  throw new Error('expected a failure');
}

describe('GitLabClient reads what a backup keeps of a project', () => {
  let gitlab: GitLabDouble;
  let alice: string;
  let bob: string;
  let handbook: { id: number; fullPath: string };
  let infra: { id: number; fullPath: string };
  const client = (token: string) => new GitLabClient({ baseUrl: gitlab.url, token }, { maxRetryMs: 500, timeoutMs: 2_000 });

  /** Every item of a list, page after page, and the pages it took. */
  async function all(c: GitLabClient, list: MetadataList, projectId: number, perPage: number, parentIid?: number): Promise<{ items: Item[]; pages: number }> {
    const items: Item[] = [];
    let pages = 0;
    for (let page: number | null = 1; page !== null; pages++) {
      const answer = await c.metadataPage(list, projectId, page, perPage, parentIid);
      items.push(...answer.items);
      page = answer.nextPage;
    }
    return { items, pages };
  }

  beforeAll(async () => {
    gitlab = await GitLabDouble.start();
    gitlab.addUser('alice');
    gitlab.addUser('bob');
    alice = gitlab.addToken('alice');
    bob = gitlab.addToken('bob');
    gitlab.addGroup('acme', { members: ['alice'] });
    handbook = gitlab.addProject('acme', 'handbook', { branches: 3, tags: 4, issues: 7, mergeRequests: 5, labels: 5, milestones: 3, releases: 2, notes: 3 });
    infra = gitlab.addProject('acme', 'infra');
  });

  afterAll(async () => {
    await gitlab?.close();
  });

  beforeEach(() => gitlab.resetRequests());

  describe('projectSettings', () => {
    it('reads the repository URL, the wiki and the default branch, and keeps the whole answer in snake_case', async () => {
      const settings = await client(alice).projectSettings(handbook.id);
      expect(settings).toMatchObject({ httpUrlToRepo: `${gitlab.url}/acme/handbook.git`, wikiEnabled: true, defaultBranch: 'main' });
      expect(settings.raw).toMatchObject({
        id: handbook.id,
        path_with_namespace: 'acme/handbook',
        description: expect.any(String),
        wiki_enabled: true,
        issues_enabled: true,
        merge_requests_enabled: true,
        topics: expect.any(Array),
        empty_repo: false,
        created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
        last_activity_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      });
      expect(settings.raw).not.toHaveProperty('httpUrlToRepo');
      expect(gitlab.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /api/v4/projects/${handbook.id}`]);
    });

    it('says there is no default branch for a repository without branches', async () => {
      const empty = gitlab.addProject('acme', 'empty', { branches: 0, tags: 0 });
      const settings = await client(alice).projectSettings(empty.id);
      expect(settings.defaultBranch).toBeNull();
      expect(settings.raw).toMatchObject({ empty_repo: true, default_branch: null });
    });

    it('fails with NOT_FOUND for a project the token cannot see', async () => {
      const error = await failure(client(bob).projectSettings(handbook.id));
      expect(error).toMatchObject({ failure: 'NOT_FOUND', details: { status: 404, gitlabMessage: '404 Project Not Found' } });
    });

    it('fails with BAD_RESPONSE when the answer names no repository URL', async () => {
      const server: Server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 7, name: 'odd', path_with_namespace: 'acme/odd' }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const odd = new GitLabClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 'not-a-real-one' }, { maxRetryMs: 0 });
        const error = await failure(odd.projectSettings(7));
        expect(error.failure).toBe('BAD_RESPONSE');
        expect(error.message).toContain('http_url_to_repo');
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  });

  describe('metadataPage', () => {
    it('reads labels and milestones with their GitLab fields, one request a page', async () => {
      const labels = await all(client(alice), 'labels', handbook.id, 2);
      expect(labels.pages).toBe(3);
      expect(labels.items).toHaveLength(5);
      expect(labels.items[0]).toEqual(
        expect.objectContaining({
          id: expect.any(Number),
          name: expect.any(String),
          color: expect.stringMatching(/^#[0-9a-f]{6}$/i),
          description: expect.any(String),
        }),
      );
      expect(new Set(labels.items.map((l) => l.name)).size).toBe(5);
      expect(gitlab.requests.map((r) => [r.path, r.query.page, r.query.per_page])).toEqual(
        [1, 2, 3].map((page) => [`/api/v4/projects/${handbook.id}/labels`, String(page), '2']),
      );

      const milestones = await all(client(alice), 'milestones', handbook.id, 100);
      expect(milestones.items.map((m) => m.iid)).toEqual([1, 2, 3]);
      expect(milestones.items[0]).toEqual(
        expect.objectContaining({ id: expect.any(Number), title: expect.any(String), state: 'active', due_date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) }),
      );
    });

    it('reads issues and merge requests in every state, oldest first', async () => {
      const issues = (await all(client(alice), 'issues', handbook.id, 3)).items;
      expect(issues.map((i) => i.iid)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(new Set(issues.map((i) => i.state))).toEqual(new Set(['opened', 'closed']));
      const created = issues.map((i) => i.created_at as string);
      expect([...created].sort()).toEqual(created);
      expect(issues[0]).toEqual(
        expect.objectContaining({
          title: expect.any(String),
          description: expect.any(String),
          labels: [expect.any(String)],
          milestone: expect.objectContaining({ iid: 1, title: expect.any(String) }),
          author: expect.objectContaining({ username: expect.any(String) }),
        }),
      );
      expect(gitlab.requests.every((r) => r.query.order_by === 'created_at' && r.query.sort === 'asc')).toBe(true);

      const mergeRequests = (await all(client(alice), 'mergeRequests', handbook.id, 100)).items;
      expect(mergeRequests.map((m) => m.iid)).toEqual([1, 2, 3, 4, 5]);
      expect(mergeRequests.map((m) => m.state)).toContain('merged');
      expect(mergeRequests[0]).toEqual(expect.objectContaining({ source_branch: expect.any(String), target_branch: 'main', description: expect.any(String) }));
    });

    it('reads the notes of one issue and of one merge request, oldest first', async () => {
      const issueNotes = (await all(client(alice), 'issueNotes', handbook.id, 2, 4)).items;
      expect(issueNotes).toHaveLength(3);
      expect(issueNotes.every((n) => n.noteable_type === 'Issue' && n.noteable_iid === 4)).toBe(true);
      expect(issueNotes.map((n) => n.system)).toEqual([false, true, false]);
      expect(issueNotes[0]).toEqual(
        expect.objectContaining({ id: expect.any(Number), body: expect.any(String), author: expect.any(Object), created_at: expect.any(String) }),
      );
      const created = issueNotes.map((n) => n.created_at as string);
      expect([...created].sort()).toEqual(created);
      expect(gitlab.requests[0]).toMatchObject({ path: `/api/v4/projects/${handbook.id}/issues/4/notes`, query: { sort: 'asc', order_by: 'created_at' } });

      const mergeRequestNotes = (await all(client(alice), 'mergeRequestNotes', handbook.id, 100, 5)).items;
      expect(mergeRequestNotes.map((n) => [n.noteable_type, n.noteable_iid])).toEqual([
        ['MergeRequest', 5],
        ['MergeRequest', 5],
        ['MergeRequest', 5],
      ]);
      expect(new Set([...issueNotes, ...mergeRequestNotes].map((n) => n.id)).size).toBe(6);
    });

    it('fails with NOT_FOUND for the notes of an issue or a merge request the project does not have', async () => {
      expect(await failure(client(alice).metadataPage('issueNotes', handbook.id, 1, 20, 8))).toMatchObject({
        failure: 'NOT_FOUND',
        details: { gitlabMessage: '404 Issue Not Found' },
      });
      expect((await failure(client(alice).metadataPage('mergeRequestNotes', handbook.id, 1, 20, 6))).failure).toBe('NOT_FOUND');
    });

    it('asks for no notes without the iid they hang on', async () => {
      await expect(client(alice).metadataPage('issueNotes', handbook.id, 1)).rejects.toThrow(RangeError);
      expect(gitlab.requests).toHaveLength(0);
    });

    it('reads releases oldest first, each on a tag of the project', async () => {
      const releases = (await all(client(alice), 'releases', handbook.id, 1)).items;
      expect(releases.map((r) => r.tag_name)).toEqual(['v1.0.0', 'v1.1.0']);
      expect(releases[0]).toEqual(
        expect.objectContaining({ name: expect.any(String), description: expect.any(String), created_at: expect.any(String), released_at: expect.any(String) }),
      );
      expect(gitlab.requests[0]?.query).toMatchObject({ order_by: 'created_at', sort: 'asc' });
    });

    it('gives ids unique across projects, as GitLab does', async () => {
      const c = client(alice);
      const ids = async (list: MetadataList, parentIid?: number) => {
        const pages = await Promise.all([handbook, infra].map((p) => c.metadataPage(list, p.id, 1, 100, parentIid)));
        return pages.flatMap((page) => page.items.map((item) => item.id));
      };
      for (const list of ['labels', 'milestones', 'issues', 'mergeRequests', 'issueNotes', 'mergeRequestNotes'] as const) {
        const both = await ids(list, 1);
        expect(both.length).toBeGreaterThan(2);
        expect(new Set(both).size).toBe(both.length);
      }
    });

    it('fails with NOT_FOUND for a project the token cannot see, and FORBIDDEN for a token that may not read the API', async () => {
      expect((await failure(client(bob).metadataPage('labels', handbook.id, 1))).failure).toBe('NOT_FOUND');
      const userOnly = gitlab.addToken('alice', { scopes: ['read_user'] });
      expect((await failure(client(userOnly).metadataPage('releases', handbook.id, 1))).failure).toBe('FORBIDDEN');
    });
  });
});
