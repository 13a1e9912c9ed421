// What a restore writes through a GitLab session (gitbeaker and git over real HTTP, against the
// double): a new project found by its namespace's path, its git refs pushed, then its labels,
// milestones, issues, notes and releases, each read back as GitLab serves them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackplaneError } from '../../src/errors';
import { GitLabClient } from '../../src/gitlab/client';
import { GitLabError } from '../../src/gitlab/types';
import { backupGitLabPort } from '../../src/gitlab-session';
import { GitLabDouble } from '../support/gitlab-double';

jest.setTimeout(30_000);

function refsOf(dir: string): string[] {
  return execFileSync('git', ['for-each-ref', '--format=%(refname) %(objectname)'], { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: tmpdir() } })
    .toString()
    .split('\n')
    .filter(Boolean)
    .sort();
}

describe('GitLab session writes what a restore makes', () => {
  let gitlab: GitLabDouble;
  let writer: string;
  let reader: string;
  let work: string;
  const port = () => backupGitLabPort({ timeoutMs: 5_000, maxRetryMs: 500, checkMaxRetryMs: 500, gitTimeoutMs: 20_000 });
  const session = (token: string) => port().session({ gitlabUrl: gitlab.url, token });

  beforeAll(async () => {
    gitlab = await GitLabDouble.start();
    gitlab.addUser('alice');
    gitlab.addGroup('acme', { members: ['alice'] });
    gitlab.addGroup('acme/restored', { members: ['alice'] });
    writer = gitlab.addToken('alice', { scopes: ['api', 'write_repository'] });
    reader = gitlab.addToken('alice', { scopes: ['read_api', 'read_repository'] });
    work = mkdtempSync(join(tmpdir(), 'backplane-client-writes-'));
  });
  afterAll(async () => {
    await gitlab?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('finds a namespace by its path, and answers NOT_FOUND for one it cannot see', async () => {
    const namespace = await session(reader).namespace('acme/restored');
    expect(namespace).toMatchObject({ fullPath: 'acme/restored', kind: 'group' });
    expect(namespace.id).toBeGreaterThan(0);
    await expect(session(reader).namespace('nowhere/at-all')).rejects.toMatchObject({ failure: 'NOT_FOUND' });
  });

  it('creates a project, pushes refs into it, and writes its metadata, which GitLab then serves', async () => {
    const source = gitlab.addProject('acme', 'source');
    const main = await gitlab.commit(source.id, { files: { 'README.md': '# source\n' } });
    await gitlab.commit(source.id, { branch: 'feature', files: { 'f.txt': 'f\n' } });
    await gitlab.tag(source.id, 'v1.0.0');
    await gitlab.setRef(source.id, 'refs/merge-requests/1/head', main);

    const s = session(writer);
    const namespace = await s.namespace('acme/restored');
    const created = await s.createProject({
      namespaceId: namespace.id,
      path: 'copy',
      name: 'Copy',
      settings: { description: 'restored', wiki_enabled: false },
    });
    expect(created).toEqual({ id: expect.any(Number), fullPath: 'acme/restored/copy', httpUrlToRepo: `${gitlab.url}/acme/restored/copy.git` });

    // A clone of the source, as a restore has it from the bundle, pushed into the new project.
    const clone = join(work, 'clone.git');
    execFileSync('git', ['clone', '--quiet', '--mirror', gitlab.repositoryOf(source.id), clone]);
    const before = s.requests;
    const pushed = await s.pushMirror({ dir: clone, url: created.httpUrlToRepo });
    expect(pushed.leftOut).toEqual(['refs/merge-requests/1/head']);
    expect(s.requests).toBeGreaterThan(before);
    const kept = refsOf(gitlab.repositoryOf(source.id)).filter((line) => !line.startsWith('refs/merge-requests/'));
    expect(refsOf(gitlab.repositoryOf(created.id))).toEqual(kept);

    const label = await s.createLabel(created.id, { name: 'bug', color: '#ff0000', description: 'Something is wrong' });
    const milestone = await s.createMilestone(created.id, { title: 'v1', description: 'First', due_date: '2026-12-31' });
    const issue = await s.createIssue(created.id, {
      title: 'It breaks',
      description: 'Originally by @bob',
      labels: ['bug', 'urgent'],
      milestone_id: milestone.id,
    });
    expect(issue.iid).toBe(1);
    await s.createIssueNote(created.id, issue.iid, 'A note, with\nlines');
    await s.setIssueState(created.id, issue.iid, 'close');
    await s.setMilestoneState(created.id, milestone.id, 'close');
    await expect(s.setIssueState(created.id, 99, 'close')).rejects.toMatchObject({ failure: 'NOT_FOUND' });
    expect(await s.createRelease(created.id, { tag_name: 'v1.0.0', name: 'One', description: 'The first' })).toEqual({ tagName: 'v1.0.0' });
    expect(label.id).toBeGreaterThan(0);

    const read = new GitLabClient({ baseUrl: gitlab.url, token: reader });
    const items = async (list: 'labels' | 'milestones' | 'issues' | 'releases') => (await read.metadataPage(list, created.id, 1)).items;
    expect((await items('labels')).map((l) => [l.name, l.color])).toEqual([
      ['bug', '#ff0000'],
      ['urgent', '#6699cc'],
    ]);
    expect(await items('milestones')).toEqual([expect.objectContaining({ title: 'v1', due_date: '2026-12-31', state: 'closed' })]);
    expect(await items('issues')).toEqual([
      expect.objectContaining({ title: 'It breaks', state: 'closed', labels: ['bug', 'urgent'], milestone: expect.objectContaining({ id: milestone.id }) }),
    ]);
    expect((await read.metadataPage('issueNotes', created.id, 1, 20, 1)).items.map((n) => n.body)).toEqual(['A note, with\nlines']);
    expect(await items('releases')).toEqual([expect.objectContaining({ tag_name: 'v1.0.0', name: 'One', description: 'The first' })]);
  });

  it('refuses a project whose path is taken with CONFLICT, and writes nothing', async () => {
    const s = session(writer);
    const namespace = await s.namespace('acme');
    gitlab.addProject('acme', 'taken');
    const error = await s.createProject({ namespaceId: namespace.id, path: 'taken', name: 'Something else' }).catch((caught) => caught);
    expect(error).toBeInstanceOf(BackplaneError);
    expect(error).toMatchObject({ code: 'CONFLICT' });
    expect(error.message).toContain('never overwrites');
  });

  it("is refused with GitLab's 403 when the token may only read", async () => {
    const namespace = await session(reader).namespace('acme');
    const error = await session(reader)
      .createProject({ namespaceId: namespace.id, path: 'read-only', name: 'read-only' })
      .catch((caught) => caught);
    expect(error).toBeInstanceOf(GitLabError);
    expect(error).toMatchObject({ failure: 'FORBIDDEN' });
  });
});
