// A session's git fetch stopped by the caller's signal (real git over real HTTP, against the
// double): the work it was for failed elsewhere, while the session itself goes on.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backupGitLabPort } from '../../src/gitlab-session';
import { GitLabDouble } from '../support/gitlab-double';

jest.setTimeout(30_000);

describe("GitLab session's fetchMirror", () => {
  let gitlab: GitLabDouble;
  let token: string;
  let work: string;
  let url: string;

  beforeAll(async () => {
    gitlab = await GitLabDouble.start();
    gitlab.addUser('alice');
    gitlab.addGroup('acme', { members: ['alice'] });
    token = gitlab.addToken('alice', { scopes: ['read_api', 'read_repository'] });
    const project = gitlab.addProject('acme', 'web');
    await gitlab.commit(project.id, { files: { 'README.md': '# web\n' } });
    url = `${gitlab.url}/acme/web.git`;
    work = mkdtempSync(join(tmpdir(), 'backplane-session-fetch-'));
  });
  afterAll(async () => {
    await gitlab?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("ends with ABORTED when the caller's signal is aborted, and the same session fetches after", async () => {
    const session = backupGitLabPort({ timeoutMs: 5_000, maxRetryMs: 500, checkMaxRetryMs: 500, gitTimeoutMs: 20_000 }).session({
      gitlabUrl: gitlab.url,
      token,
    });
    const dir = join(work, 'web.git');
    const stop = new AbortController();
    const stopped = session.fetchMirror({ url, dir, signal: stop.signal });
    stop.abort();
    await expect(stopped).rejects.toMatchObject({ failure: 'ABORTED' });
    const fetched = await session.fetchMirror({ url, dir, signal: new AbortController().signal });
    expect(fetched.refs.map((ref) => ref.name)).toContain('refs/heads/main');
  });
});
