import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchMirror } from '../../src/git/mirror';
import { GitError } from '../../src/git/errors';
import { GitLabError } from '../../src/gitlab/types';
import { GitLabDouble } from '../support/gitlab-double';

/** The refs of a bare repository, as git itself lists them. */
function refsOf(gitDir: string): { name: string; sha: string }[] {
  const text = execFileSync('git', ['for-each-ref', '--format=%(objectname) %(refname)'], { env: { PATH: process.env.PATH, GIT_DIR: gitDir } }).toString();
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => ({ sha: line.split(' ')[0], name: line.split(' ')[1] }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : entry.isFile() ? [path] : [];
  });
}

async function failureOf(call: Promise<unknown>): Promise<GitLabError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof GitLabError) return error;
    throw error;
  }
  throw new Error('the call succeeded');
}

describe('fetchMirror', () => {
  let double: GitLabDouble;
  let token: string;
  let project: { id: number; fullPath: string };
  let url: string;
  let work: string;

  beforeAll(async () => {
    double = await GitLabDouble.start();
    double.addUser('alice');
    token = double.addToken('alice');
    double.addGroup('acme', { members: ['alice'] });
    project = double.addProject('acme', 'web');
    url = `${double.url}/${project.fullPath}.git`;
    work = mkdtempSync(join(tmpdir(), 'git-mirror-spec-'));
  });

  afterAll(async () => {
    await double.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('takes an empty project as no refs, then every ref once there are, then nothing new, then what was removed', async () => {
    const dir = join(work, 'web.git');
    expect(await fetchMirror({ url, dir, token })).toEqual({ refs: [], changed: false, head: null });

    const first = await double.commit(project.id, { files: { 'README.md': '# web\n' } });
    const feature = await double.commit(project.id, { branch: 'feature', files: { 'a.txt': 'a\n' } });
    await double.tag(project.id, 'v1.0');
    await double.setRef(project.id, 'refs/merge-requests/1/head', feature);
    const fetched = await fetchMirror({ url, dir, token });
    expect(fetched.changed).toBe(true);
    expect(fetched.head).toBe('main');
    expect(fetched.refs).toEqual(refsOf(double.repositoryOf(project.id)));
    expect(fetched.refs).toEqual(
      expect.arrayContaining([
        { name: 'refs/heads/main', sha: first },
        { name: 'refs/heads/feature', sha: feature },
        { name: 'refs/tags/v1.0', sha: first },
        { name: 'refs/merge-requests/1/head', sha: feature },
      ]),
    );
    expect(readFileSync(join(dir, 'HEAD'), 'utf8').trim()).toBe('ref: refs/heads/main');

    double.resetRequests();
    let counted = 0;
    const again = await fetchMirror({ url, dir, token, onRequest: () => counted++ });
    expect(counted).toBe(double.requests.length);
    expect(again).toEqual({ refs: fetched.refs, changed: false, head: 'main' });
    // Nothing new: the ref advertisement (info/refs, then ls-refs in protocol v2) and no fetch after it.
    expect(double.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'GET /acme/web.git/info/refs',
      'POST /acme/web.git/git-upload-pack',
    ]);
    expect(double.requests.every((request) => request.username === 'alice')).toBe(true);

    await double.deleteRef(project.id, 'refs/heads/feature');
    const second = await double.commit(project.id, { files: { 'README.md': '# web, again\n' } });
    double.resetRequests();
    counted = 0;
    const pruned = await fetchMirror({ url, dir, token, onRequest: () => counted++ });
    expect(counted).toBe(double.requests.length);
    expect(counted).toBeGreaterThan(2);
    expect(pruned.changed).toBe(true);
    expect(pruned.refs.map((ref) => ref.name)).not.toContain('refs/heads/feature');
    expect(pruned.refs).toContainEqual({ name: 'refs/heads/main', sha: second });
    expect(pruned.refs).toEqual(refsOf(double.repositoryOf(project.id)));
  });

  it('stores the URL without the token, and no file of the mirror holds it', async () => {
    const dir = join(work, 'tokenless.git');
    await double.commit(project.id, { files: { 'b.txt': 'b\n' } });
    await fetchMirror({ url, dir, token });
    const config = readFileSync(join(dir, 'config'), 'utf8');
    expect(config).toContain(`url = ${url}`);
    expect(config).not.toContain(token);
    expect(config).not.toMatch(/extraheader|authorization/i);
    const basic = Buffer.from(`oauth2:${token}`).toString('base64');
    const holding = filesUnder(dir).filter((file) => {
      const text = readFileSync(file).toString('latin1');
      return text.includes(token) || text.includes(basic);
    });
    expect(holding).toEqual([]);
    expect(filesUnder(dir).length).toBeGreaterThan(5);
  });

  it("mirrors a project's wiki as a repository of its own", async () => {
    const wikiUrl = `${double.url}/${project.fullPath}.wiki.git`;
    const missing = await failureOf(fetchMirror({ url: wikiUrl, dir: join(work, 'web.wiki.git'), token }));
    expect(missing.failure).toBe('NOT_FOUND');
    const page = await double.commit(project.id, { wiki: true, files: { 'home.md': '# Home\n' } });
    const wiki = await fetchMirror({ url: wikiUrl, dir: join(work, 'web.wiki.git'), token });
    expect(wiki.refs).toEqual([{ name: 'refs/heads/main', sha: page }]);
  });

  it('refuses a URL that carries credentials, before any request', async () => {
    double.resetRequests();
    const withUser = url.replace('http://', `http://oauth2:${token}@`);
    const error = await fetchMirror({ url: withUser, dir: join(work, 'refused.git'), token }).catch((caught) => caught);
    expect(error).toBeInstanceOf(GitError);
    expect(error.message).not.toContain(token);
    expect(double.requests).toEqual([]);
    expect(readdirSync(work)).not.toContain('refused.git');
  });

  it('refuses a folder that mirrors another repository', async () => {
    const dir = join(work, 'other.git');
    await fetchMirror({ url, dir, token });
    await expect(fetchMirror({ url: `${double.url}/acme/else.git`, dir, token })).rejects.toThrow(/mirrors .*acme\/web\.git, not .*acme\/else\.git/);
  });

  it('follows a project renamed on GitLab when told the mirror is the same project, and fetches from its new address', async () => {
    const moved = double.addProject('acme', 'moving');
    const dir = join(work, 'moving.git');
    await double.commit(moved.id, { files: { 'a.txt': 'one\n' } });
    await fetchMirror({ url: `${double.url}/acme/moving.git`, dir, token });
    double.renameProject(moved.id, 'moved');
    const second = await double.commit(moved.id, { files: { 'b.txt': 'two\n' } });
    await expect(fetchMirror({ url: `${double.url}/acme/moved.git`, dir, token })).rejects.toThrow(/mirrors .*acme\/moving\.git/);
    const state = await fetchMirror({ url: `${double.url}/acme/moved.git`, dir, token, followMoves: true });
    expect(state.refs).toContainEqual({ name: 'refs/heads/main', sha: second });
    expect(execFileSync('git', ['config', '--get', 'remote.origin.url'], { cwd: dir }).toString().trim()).toBe(`${double.url}/acme/moved.git`);
  });

  it('refuses a folder that is not a repository, even inside one', async () => {
    const dir = join(work, 'inside.git');
    execFileSync('git', ['init', '--quiet', work]);
    mkdirSync(dir);
    const error = await fetchMirror({ url, dir, token }).catch((caught) => caught);
    expect(error).toBeInstanceOf(GitError);
    expect(error.message).toContain('is not a mirror Backplane made');
    rmSync(join(work, '.git'), { recursive: true, force: true });
  });

  it('fails UNAUTHORIZED with a token GitLab does not know, naming the repository and not the token', async () => {
    const wrong = 'made-up-wrong-token-0000';
    const error = await failureOf(fetchMirror({ url, dir: join(work, 'unauthorized.git'), token: wrong }));
    expect(error.failure).toBe('UNAUTHORIZED');
    expect(error.code).toBe('GITLAB_UNAUTHORIZED');
    expect(error.message).toContain(url);
    expect(error.message).not.toContain(wrong);
  });

  it('fails NOT_FOUND for a project the token does not see', async () => {
    const error = await failureOf(fetchMirror({ url: `${double.url}/acme/missing.git`, dir: join(work, 'missing.git'), token }));
    expect(error.failure).toBe('NOT_FOUND');
    expect(error.message).toContain('acme/missing.git');
  });

  it('fails RATE_LIMITED when the git throttle refuses the token', async () => {
    const limited = double.addToken('alice');
    double.setGitRateLimit({ limit: 1, windowMs: 60_000 }, limited);
    // A fetch makes two requests at least: the second is refused.
    const error = await failureOf(fetchMirror({ url, dir: join(work, 'limited.git'), token: limited }));
    double.setGitRateLimit(null, limited);
    expect(error.failure).toBe('RATE_LIMITED');
    expect(error.details.status).toBe(429);
    expect(error.details.retryAfterMs).toBeGreaterThan(0);
    expect(error.details.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(error.code).toBe('GITLAB_RATE_LIMITED');
  });

  it('fails UNREACHABLE when nothing listens', async () => {
    const error = await failureOf(fetchMirror({ url: 'http://127.0.0.1:1/acme/web.git', dir: join(work, 'unreachable.git'), token }));
    expect(error.failure).toBe('UNREACHABLE');
    expect(error.message).not.toContain(token);
  });
});
