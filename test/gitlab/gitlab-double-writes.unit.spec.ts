// The GitLab double's write endpoints, those a restore uses, called as its HTTP server calls them
// once it hands POST requests on: a new project, then what is written into it, read back by GETs.
import { serveApi, type Answer } from '../support/gitlab-double/api';
import { Model, type Token, type User } from '../support/gitlab-double/model';

const BASE = 'http://127.0.0.1:1';

describe('GitLab double writes', () => {
  let model: Model;
  let alice: { user: User; token: Token };
  let groupId: number;

  function call(method: 'GET' | 'POST', path: string, body?: Record<string, unknown>, caller = alice): Answer {
    const [pathname, search = ''] = path.split('?');
    return serveApi(model, {
      segments: pathname!.split('/').map(decodeURIComponent),
      query: Object.fromEntries(new URLSearchParams(search)),
      baseUrl: BASE,
      linkBase: `${BASE}/api/v4/${pathname}`,
      caller,
      now: Date.parse('2026-01-02T03:04:05Z'),
      method,
      ...(body && { body }),
    });
  }

  function member(username: string, scopes: string[]): { user: User; token: Token } {
    const user = model.users.get(username) ?? model.addUser(username);
    const token = model.addToken({
      value: `${username}-${scopes.join('-')}`,
      name: 't',
      userId: user.id,
      scopes,
      expiresAt: null,
      expiresAtMs: null,
      kind: 'personal',
    });
    return { user, token };
  }

  beforeEach(() => {
    model = new Model();
    alice = member('alice', ['api']);
    groupId = model.addGroup('acme', ['alice']).id;
    model.addGroup('hidden', ['bob']);
  });

  it('creates an empty project in a group, with the settings given, under the path given', () => {
    const created = call('POST', 'projects', { name: 'Handbook', path: 'handbook', namespace_id: groupId, description: 'All we know', wiki_enabled: false });
    expect(created.status).toBe(201);
    const project = created.body as Record<string, unknown>;
    expect(project).toMatchObject({
      name: 'Handbook',
      path: 'handbook',
      path_with_namespace: 'acme/handbook',
      description: 'All we know',
      wiki_enabled: false,
      issues_enabled: true,
      empty_repo: true,
      default_branch: null,
      http_url_to_repo: `${BASE}/acme/handbook.git`,
    });
    expect(call('GET', `projects/${project.id}`).body).toEqual(project);
    expect(call('GET', 'projects/acme%2Fhandbook').status).toBe(200);
    for (const list of ['labels', 'milestones', 'issues', 'releases', 'merge_requests', 'repository/branches']) {
      expect([list, call('GET', `projects/${project.id}/${list}`).body]).toEqual([list, []]);
    }
  });

  it("refuses a project whose path or name is taken in the namespace, with GitLab's field errors", () => {
    model.addProject('acme', 'handbook', {});
    expect(call('POST', 'projects', { path: 'Handbook', namespace_id: 'acme' })).toEqual({
      status: 400,
      body: { message: { name: ['has already been taken'], path: ['has already been taken'] } },
    });
    expect(call('POST', 'projects', { name: 'Other', path: 'handbook', namespace_id: groupId })).toEqual({
      status: 400,
      body: { message: { path: ['has already been taken'] } },
    });
    expect(call('POST', 'projects', { name: 'handbook', path: 'guide', namespace_id: groupId }).body).toEqual({
      message: { name: ['has already been taken'] },
    });
    expect(call('POST', 'projects', { path: '-bad', namespace_id: groupId })).toMatchObject({
      status: 400,
      body: { message: { path: [expect.stringContaining('letters')] } },
    });
  });

  it('refuses a project without a name or a path, without a namespace, or in a group not visible', () => {
    expect(call('POST', 'projects', { namespace_id: groupId })).toEqual({
      status: 400,
      body: { error: 'name, path are missing, at least one parameter must be provided' },
    });
    expect(call('POST', 'projects', { path: 'x' })).toEqual({ status: 400, body: { error: 'namespace_id is missing' } });
    expect(call('POST', 'projects', { path: 'x', namespace_id: 'hidden' })).toEqual({ status: 404, body: { message: '404 Namespace Not Found' } });
  });

  it('takes writes with the api scope only', () => {
    const reader = member('alice', ['read_api']);
    expect(call('POST', 'projects', { path: 'x', namespace_id: groupId }, reader)).toMatchObject({
      status: 403,
      body: { error: 'insufficient_scope', scope: 'api' },
    });
    expect(model.projectsOf(model.findGroup('acme', 'alice')!, false)).toEqual([]);
  });

  it('writes labels, milestones, issues with their notes, and releases, and serves them back oldest first', () => {
    const id = (call('POST', 'projects', { path: 'restored', namespace_id: groupId }).body as { id: number }).id;
    expect(call('POST', `projects/${id}/labels`, { name: 'bug', color: '#d9534f', description: 'Broken' })).toMatchObject({
      status: 201,
      body: { name: 'bug', color: '#d9534f', description: 'Broken' },
    });
    const milestone = call('POST', `projects/${id}/milestones`, { title: 'v1', due_date: '2025-06-30' });
    expect(milestone).toMatchObject({ status: 201, body: { iid: 1, title: 'v1', state: 'active', due_date: '2025-06-30', expired: true } });
    const milestoneId = (milestone.body as { id: number }).id;
    const first = call('POST', `projects/${id}/issues`, {
      title: 'First',
      description: 'It broke',
      labels: 'bug,feature',
      milestone_id: milestoneId,
      created_at: '2024-03-01T10:00:00Z',
    });
    expect(first).toMatchObject({
      status: 201,
      body: { iid: 1, title: 'First', state: 'opened', labels: ['bug', 'feature'], milestone: { id: milestoneId }, created_at: '2024-03-01T10:00:00.000Z' },
    });
    expect(call('POST', `projects/${id}/issues`, { title: 'Second', milestone_id: 999 })).toMatchObject({ status: 201, body: { iid: 2, milestone: null } });
    expect(call('POST', `projects/${id}/issues/1/notes`, { body: 'Seen it', created_at: '2024-03-02T10:00:00Z' })).toMatchObject({
      status: 201,
      body: { body: 'Seen it', noteable_type: 'Issue', noteable_iid: 1, system: false },
    });
    call('POST', `projects/${id}/issues/1/notes`, { body: 'Fixed' });
    expect(call('POST', `projects/${id}/releases`, { tag_name: 'v1.0.0', name: 'One', description: 'First release' })).toMatchObject({
      status: 201,
      body: { tag_name: 'v1.0.0', name: 'One', description: 'First release' },
    });

    const names = (path: string, field: string) => (call('GET', `projects/${id}/${path}`).body as Record<string, unknown>[]).map((item) => item[field]);
    // The issue brought its missing label into being.
    expect(names('labels', 'name')).toEqual(['bug', 'feature']);
    expect(names('milestones', 'title')).toEqual(['v1']);
    expect(names('issues?sort=asc', 'title')).toEqual(['First', 'Second']);
    expect(names('issues', 'title')).toEqual(['Second', 'First']);
    expect(names('issues?state=closed', 'title')).toEqual([]);
    expect(names('issues/1/notes?sort=asc', 'body')).toEqual(['Seen it', 'Fixed']);
    expect(names('issues/2/notes', 'body')).toEqual([]);
    expect(names('releases', 'tag_name')).toEqual(['v1.0.0']);
    expect((call('GET', `projects/${id}/issues?sort=asc`).body as { user_notes_count: number }[])[0]?.user_notes_count).toBe(2);
    const ids = ['labels', 'milestones', 'issues', 'issues/1/notes'].flatMap((path) => names(path, 'id'));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("refuses bad or repeated writes with GitLab's status and words", () => {
    const id = (call('POST', 'projects', { path: 'restored', namespace_id: groupId }).body as { id: number }).id;
    const cases: [string, Record<string, unknown>, number, unknown][] = [
      ['labels', { description: 'x' }, 400, { error: 'name, color are missing' }],
      ['labels', { name: 'bug', color: 'reddish' }, 400, { message: { color: ['must be a valid color code'] } }],
      ['milestones', {}, 400, { error: 'title is missing' }],
      ['milestones', { title: 'v1', due_date: 'soon' }, 400, { error: 'due_date is invalid' }],
      ['issues', { description: 'no title' }, 400, { error: 'title is missing' }],
      ['issues', { title: 't', created_at: 'yesterday' }, 400, { error: 'created_at is invalid' }],
      ['issues/1/notes', { body: 'on nothing' }, 404, { message: '404 Issue Not Found' }],
      ['releases', { name: 'no tag' }, 400, { error: 'tag_name is missing' }],
    ];
    for (const [path, body, status, answer] of cases) expect([path, call('POST', `projects/${id}/${path}`, body)]).toEqual([path, { status, body: answer }]);

    call('POST', `projects/${id}/labels`, { name: 'bug', color: '#fff' });
    expect(call('POST', `projects/${id}/labels`, { name: 'bug', color: '#000' })).toEqual({ status: 409, body: { message: 'Label already exists' } });
    call('POST', `projects/${id}/milestones`, { title: 'v1' });
    expect(call('POST', `projects/${id}/milestones`, { title: 'v1' })).toEqual({
      status: 400,
      body: { message: { title: ['already being used for another group or project milestone.'] } },
    });
    call('POST', `projects/${id}/issues`, { title: 'one' });
    expect(call('POST', `projects/${id}/issues/1/notes`, {})).toEqual({ status: 400, body: { error: 'body is missing' } });
    call('POST', `projects/${id}/releases`, { tag_name: 'v1' });
    expect(call('POST', `projects/${id}/releases`, { tag_name: 'v1' })).toEqual({ status: 409, body: { message: 'Release already exists' } });
  });

  it('writes into no project made up by a test, and into no project not visible', () => {
    const madeUp = model.addProject('acme', 'made-up', {});
    expect(call('POST', `projects/${madeUp.id}/labels`, { name: 'bug', color: '#fff' })).toEqual({ status: 403, body: { message: '403 Forbidden' } });
    const hidden = model.addProject('hidden', 'secret', {});
    expect(call('POST', `projects/${hidden.id}/labels`, { name: 'bug', color: '#fff' })).toEqual({ status: 404, body: { message: '404 Project Not Found' } });
  });
});
