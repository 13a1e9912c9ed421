// The GitLab double's git over smart HTTP, driven by the real git client, so that the backups
// written against it meet GitLab's protocol and refusals, and not the double's guesses.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../support/eventually';
import { GitLabDouble, type RecordedRequest } from '../support/gitlab-double';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface GitOptions {
  cwd?: string;
  /** Sent as HTTP Basic (username oauth2) on every request, through git's environment. */
  token?: string;
  /** Given by a credential helper when the server asks, as a credential manager would. */
  helperToken?: string;
  env?: Record<string, string>;
}

/** Runs the real git with no configuration but what the test gives; tokens travel in the environment only. */
function git(args: string[], options: GitOptions = {}): Promise<Run> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: tmpdir(),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
    ...options.env,
  };
  if (options.token !== undefined) {
    Object.assign(env, {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.extraHeader',
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`oauth2:${options.token}`).toString('base64')}`,
    });
  } else if (options.helperToken !== undefined) {
    Object.assign(env, {
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'credential.helper',
      GIT_CONFIG_VALUE_0: '!f() { test "$1" = get && printf "username=oauth2\\npassword=%s\\n" "$DOUBLE_TOKEN"; }; f',
      DOUBLE_TOKEN: options.helperToken,
    });
  }
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function ok(args: string[], options: GitOptions = {}): Promise<string> {
  const run = await git(args, options);
  if (run.code !== 0) throw new Error(`git ${args.join(' ')} failed (${run.code}): ${run.stderr}`);
  return run.stdout.trim();
}

/** 'sha refname' lines of every ref, sorted by name. */
function refsOf(gitDir: string): Promise<string> {
  return ok(['--git-dir', gitDir, 'for-each-ref', '--format=%(objectname) %(refname)']);
}

/** A raw request, so that paths reach the double as written (fetch would resolve '..'). */
function raw(
  url: string,
  path: string,
  options: { method?: string; token?: string; username?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown> }> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Basic ${Buffer.from(`${options.username ?? 'oauth2'}:${options.token}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = request({ hostname, port, path, method: options.method ?? 'GET', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('GitLab double, git over smart HTTP', () => {
  let double: GitLabDouble;
  let work: string;
  let web: number;
  let aliceApi: string;
  let aliceRead: string;
  let aliceWrite: string;
  let aliceReadApi: string;
  let bob: string;
  const tips: Record<string, string> = {};
  /** Requests recorded since the mark. */
  let mark = 0;
  const since = (): RecordedRequest[] => double.requests.slice(mark);

  beforeAll(async () => {
    double = await GitLabDouble.start();
    work = mkdtempSync(join(tmpdir(), 'double-git-spec-'));
    double.addUser('alice');
    double.addUser('bob');
    aliceApi = double.addToken('alice', { scopes: ['api'] });
    aliceRead = double.addToken('alice', { scopes: ['read_repository'] });
    aliceWrite = double.addToken('alice', { scopes: ['write_repository'] });
    aliceReadApi = double.addToken('alice', { scopes: ['read_api', 'read_user'] });
    bob = double.addToken('bob', { scopes: ['api'] });
    double.addGroup('acme', { members: ['alice'] });
    double.addGroup('other', { members: ['bob'] });
    web = double.addProject('acme', 'web').id;
    await double.commit(web, { files: { 'README.md': '# Web\n' }, message: 'Start' });
    tips.main = await double.commit(web, { files: { 'src/app.ts': 'export {};\n', 'logo.bin': Buffer.from([0, 1, 2, 255]) } });
    tips.feature = await double.commit(web, { branch: 'feature', from: 'main', files: { 'README.md': '# Web, featured\n' } });
    await double.tag(web, 'v1.0.0');
    await double.setRef(web, 'refs/merge-requests/1/head', tips.feature);
    // Refs GitLab keeps for itself and never serves.
    await double.setRef(web, `refs/keep-around/${tips.feature}`, tips.feature);
    await double.setRef(web, 'refs/tmp/abc/head', tips.main);
  });

  afterAll(async () => {
    await double?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  beforeEach(() => {
    mark = double.requests.length;
  });

  const url = (path: string) => `${double.url}/${path}`;

  it('gives a mirror clone exactly the project’s refs, which passes git fsck', async () => {
    const mirror = join(work, 'web-mirror.git');
    await ok(['clone', '--quiet', '--mirror', url('acme/web.git'), mirror], { token: aliceRead });

    expect(await refsOf(mirror)).toBe(
      [
        `${tips.feature} refs/heads/feature`,
        `${tips.main} refs/heads/main`,
        `${tips.feature} refs/merge-requests/1/head`,
        `${tips.main} refs/tags/v1.0.0`,
      ].join('\n'),
    );
    expect(await ok(['--git-dir', mirror, 'symbolic-ref', 'HEAD'])).toBe('refs/heads/main');
    await ok(['--git-dir', mirror, 'fsck', '--strict', '--no-dangling']);
    expect(await ok(['--git-dir', mirror, 'show', 'feature:README.md'])).toBe('# Web, featured');
    expect(await ok(['--git-dir', mirror, 'ls-tree', '-r', '--name-only', 'feature'])).toBe('README.md\nlogo.bin\nsrc/app.ts');
    // A blob's id is the SHA-1 of its header and bytes: the binary file arrived byte for byte.
    const logo = Buffer.from([0, 1, 2, 255]);
    const logoId = createHash('sha1')
      .update(Buffer.concat([Buffer.from(`blob ${logo.length}\0`), logo]))
      .digest('hex');
    expect(await ok(['--git-dir', mirror, 'rev-parse', 'main:logo.bin'])).toBe(logoId);
    expect(await ok(['--git-dir', mirror, 'rev-list', '--count', 'main'])).toBe('2');
    // Both commits of main carry the fixed author, and the feature branch starts from main.
    expect(await ok(['--git-dir', mirror, 'log', '--format=%an <%ae>', 'main'])).toBe('Double Author <author@gitlab-double.test>\n'.repeat(2).trim());
    expect(await ok(['--git-dir', mirror, 'merge-base', 'main', 'feature'])).toBe(tips.main);

    const requests = since();
    expect(requests.map((r) => `${r.method} ${r.path} ${r.status} ${r.username}`)).toEqual([
      'GET /acme/web.git/info/refs 200 alice',
      // Protocol v2: ls-refs, then fetch.
      'POST /acme/web.git/git-upload-pack 200 alice',
      'POST /acme/web.git/git-upload-pack 200 alice',
    ]);
    expect(requests[0].query).toEqual({ service: 'git-upload-pack' });
  });

  it('speaks protocol v2 when asked, and v0 to an old client', async () => {
    const traced = await git(['-c', 'protocol.version=2', 'ls-remote', url('acme/web.git')], { token: aliceRead, env: { GIT_TRACE_PACKET: '1' } });
    expect(traced.code).toBe(0);
    expect(traced.stderr).toContain('git< version 2');
    expect(traced.stderr).toContain('ls-remote> command=ls-refs');

    const old = join(work, 'web-v0.git');
    const v0 = await git(['-c', 'protocol.version=0', 'clone', '--mirror', url('acme/web.git'), old], { token: aliceRead, env: { GIT_TRACE_PACKET: '1' } });
    expect(v0.code).toBe(0);
    expect(v0.stderr).not.toContain('version 2');
    expect(await refsOf(old)).toBe(await refsOf(join(work, 'web-mirror.git')));
  });

  it('brings a mirror up to date with a fetch: new commits come, deleted refs go', async () => {
    const mirror = join(work, 'web-incremental.git');
    await ok(['clone', '--quiet', '--mirror', url('acme/web.git'), mirror], { token: aliceApi });
    const next = await double.commit(web, { files: { 'src/app.ts': 'export const version = 2;\n' }, message: 'Version 2' });
    await double.setRef(web, 'refs/merge-requests/2/head', next);
    await double.deleteRef(web, 'refs/merge-requests/1/head');
    mark = double.requests.length;

    await ok(['--git-dir', mirror, 'fetch', '--quiet', '--prune', 'origin'], { token: aliceApi });

    expect(await refsOf(mirror)).toBe(
      [`${tips.feature} refs/heads/feature`, `${next} refs/heads/main`, `${next} refs/merge-requests/2/head`, `${tips.main} refs/tags/v1.0.0`].join('\n'),
    );
    expect(await ok(['--git-dir', mirror, 'show', 'main:src/app.ts'])).toBe('export const version = 2;');
    expect(await ok(['--git-dir', mirror, 'show', 'main:README.md'])).toBe('# Web');
    await ok(['--git-dir', mirror, 'fsck', '--strict', '--no-dangling']);
    expect(since().every((r) => r.username === 'alice' && r.status === 200)).toBe(true);
    tips.main = next;
    await double.setRef(web, 'refs/merge-requests/1/head', tips.feature);
    await double.deleteRef(web, 'refs/merge-requests/2/head');
  });

  it('takes a gzip-compressed request body, and a chunked one of unknown length', async () => {
    const many = double.addProject('acme', 'many-refs').id;
    // One commit per branch: git compresses a request over 1 KB, and 40 distinct wants make one.
    await Promise.all(Array.from({ length: 40 }, (_, i) => double.commit(many, { branch: `b-${i}`, files: { 'n.txt': `${i}\n` } })));
    const mirror = join(work, 'many.git');
    const clone = await git(['clone', '--mirror', url('acme/many-refs.git'), mirror], {
      token: aliceApi,
      env: { GIT_TRACE_CURL: '1', GIT_TRACE_CURL_NO_DATA: '1' },
    });
    expect(clone.code).toBe(0);
    expect(clone.stderr).toMatch(/=> Send header: Content-Encoding: gzip/i);
    expect(clone.stderr).not.toContain(aliceApi);
    expect((await refsOf(mirror)).split('\n')).toHaveLength(40);
    await ok(['--git-dir', mirror, 'fsck', '--strict', '--no-dangling']);

    // A post buffer smaller than the pack makes git send it chunked, without Content-Length.
    const big = double.addProject('acme', 'big-push').id;
    await ok(['--git-dir', mirror, 'fetch', '--quiet', url('acme/web.git'), 'refs/heads/main:refs/heads/web-main'], { token: aliceApi });
    const push = await git(['-c', 'http.postBuffer=1024', '--git-dir', mirror, 'push', '--mirror', url('acme/big-push.git')], {
      token: aliceWrite,
      env: { GIT_TRACE_CURL: '1', GIT_TRACE_CURL_NO_DATA: '1' },
    });
    expect(push.code).toBe(0);
    expect(push.stderr).toMatch(/=> Send header: Transfer-Encoding: chunked/i);
    expect(await refsOf(double.repositoryOf(big))).toBe(await refsOf(mirror));
  });

  it('asks for credentials (401, Basic realm GitLab) when a request carries no token', async () => {
    const run = await git(['clone', '--mirror', url('acme/web.git'), join(work, 'anonymous.git')]);

    expect(run.code).not.toBe(0);
    // git asks its credential helpers for a password, and has no terminal to prompt on.
    expect(run.stderr).toMatch(/terminal prompts disabled/);
    expect(since().map((r) => [r.status, r.username])).toEqual([[401, null]]);
    const answer = await raw(double.url, '/acme/web.git/info/refs?service=git-upload-pack');
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe('Basic realm="GitLab"');
  });

  it('refuses a revoked token with 401, which git reports as a failed authentication', async () => {
    const revoked = double.addToken('alice', { scopes: ['api'] });
    double.revokeToken(revoked);

    const run = await git(['ls-remote', url('acme/web.git')], { helperToken: revoked });

    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("Authentication failed for 'http://127.0.0.1");
    expect(run.stderr).not.toContain(revoked);
    // The first request goes without credentials; the retry carries the revoked token, recorded as alice's.
    expect(since().map((r) => [r.status, r.username])).toEqual([
      [401, null],
      [401, 'alice'],
    ]);
  });

  it('takes a personal access token with any username', async () => {
    const answer = await raw(double.url, '/acme/web.git/info/refs?service=git-upload-pack', { token: aliceRead, username: 'someone-else' });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/x-git-upload-pack-advertisement');
    expect(since().map((r) => [r.status, r.username])).toEqual([[200, 'alice']]);
  });

  it('takes an OAuth access token with the username oauth2 only', async () => {
    const redirectUri = 'http://127.0.0.1:9/callback';
    double.addOAuthApplication('git-client', 'git-secret', redirectUri);
    double.signInAs('alice');
    const authorize = new URLSearchParams({ client_id: 'git-client', redirect_uri: redirectUri, response_type: 'code', scope: 'read_repository' });
    const location = (await fetch(`${double.url}/oauth/authorize?${authorize}`, { redirect: 'manual' })).headers.get('location')!;
    const grant = new URLSearchParams({
      grant_type: 'authorization_code',
      code: new URL(location).searchParams.get('code')!,
      redirect_uri: redirectUri,
      client_id: 'git-client',
      client_secret: 'git-secret',
    });
    const issued = (await (await fetch(`${double.url}/oauth/token`, { method: 'POST', body: grant })).json()) as { access_token: string };

    expect(await ok(['ls-remote', url('acme/web.git'), 'main'], { token: issued.access_token })).toBe(`${tips.main}\trefs/heads/main`);
    const asAlice = await raw(double.url, '/acme/web.git/info/refs?service=git-upload-pack', { token: issued.access_token, username: 'alice' });
    expect(asAlice.status).toBe(401);
  });

  it('hides a project from a user who cannot see its group, and answers a missing one the same: not found', async () => {
    const hidden = await git(['clone', '--mirror', url('acme/web.git'), join(work, 'bob.git')], { token: bob });
    expect(hidden.code).not.toBe(0);
    expect(hidden.stderr).toMatch(/repository '.*acme\/web\.git\/' not found/);
    expect(hidden.stderr).not.toContain(tips.main);

    const missing = await git(['ls-remote', url('acme/nothing-here.git')], { token: aliceApi });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/not found/);
    expect(since().map((r) => [r.status, r.username])).toEqual([
      [404, 'bob'],
      [404, 'alice'],
    ]);
  });

  it('answers 403 to a token without a repository scope', async () => {
    const run = await git(['ls-remote', url('acme/web.git')], { token: aliceReadApi });

    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('403');
    expect(run.stderr).toContain('You are not allowed to download code from this project.');
    expect(since().map((r) => [r.status, r.username])).toEqual([[403, 'alice']]);
  });

  it('finds the project whatever the case of its path', async () => {
    expect(await ok(['ls-remote', url('ACME/Web.git'), 'refs/heads/main'], { token: aliceRead })).toBe(`${tips.main}\trefs/heads/main`);
  });

  it('takes a push --mirror into a new project with write_repository, and refuses it with read_repository only', async () => {
    const target = double.addProject('acme', 'restored').id;
    const source = join(work, 'source.git');
    await ok(['clone', '--quiet', '--bare', url('acme/web.git'), source], { token: aliceRead });

    // An empty project clones (with a warning) into an empty mirror, its HEAD the unborn main.
    const empty = join(work, 'empty.git');
    await ok(['clone', '--quiet', '--mirror', url('acme/restored.git'), empty], { token: aliceRead });
    expect(await refsOf(empty)).toBe('');
    expect(await ok(['--git-dir', empty, 'symbolic-ref', 'HEAD'])).toBe('refs/heads/main');

    const refused = await git(['--git-dir', source, 'push', '--mirror', url('acme/restored.git')], { token: aliceRead });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('403');
    expect(await refsOf(double.repositoryOf(target))).toBe('');

    mark = double.requests.length;
    await ok(['--git-dir', source, 'push', '--quiet', '--mirror', url('acme/restored.git')], { token: aliceWrite });
    expect(await refsOf(double.repositoryOf(target))).toBe(await refsOf(source));
    expect(await refsOf(source)).toContain('refs/heads/feature');
    expect(since().map((r) => `${r.method} ${r.path} ${r.status} ${r.username}`)).toEqual([
      'GET /acme/restored.git/info/refs 200 alice',
      'POST /acme/restored.git/git-receive-pack 200 alice',
    ]);
    await ok(['--git-dir', double.repositoryOf(target), 'fsck', '--strict', '--no-dangling']);
  });

  it('refuses a push of GitLab’s own refs, merge request refs among them', async () => {
    const source = join(work, 'web-mirror.git');
    for (const ref of ['refs/merge-requests/9/head', 'refs/pipelines/1', 'refs/environments/1', 'refs/keep-around/1', 'refs/tmp/x']) {
      const run = await git(['--git-dir', source, 'push', url('acme/web.git'), `refs/heads/feature:${ref}`], { token: aliceApi });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain(`${ref} (deny updating a hidden ref)`);
      expect(await refsOf(double.repositoryOf(web))).not.toContain(ref);
    }
    // A branch is taken.
    await ok(['--git-dir', source, 'push', '--quiet', url('acme/web.git'), 'refs/heads/feature:refs/heads/copy'], { token: aliceApi });
    await double.deleteRef(web, 'refs/heads/copy');
  });

  it('serves the wiki once it has a page, and not found before', async () => {
    const before = await git(['clone', url('acme/web.wiki.git'), join(work, 'wiki-before')], { token: aliceRead });
    expect(before.code).not.toBe(0);
    expect(before.stderr).toMatch(/not found/);
    expect(double.hasWiki(web)).toBe(false);

    const page = await double.commit(web, { wiki: true, files: { 'home.md': '# Home\n' } });
    expect(double.hasWiki(web)).toBe(true);
    const wiki = join(work, 'wiki');
    await ok(['clone', '--quiet', url('acme/web.wiki.git'), wiki], { token: aliceRead });

    expect(readFileSync(join(wiki, 'home.md'), 'utf8')).toBe('# Home\n');
    expect(await ok(['rev-parse', 'HEAD'], { cwd: wiki })).toBe(page);
    // The project's own repository is untouched.
    expect(await refsOf(double.repositoryOf(web))).not.toContain(page);
  });

  it('throttles git requests per token apart from the API: 429 with Retry-After once the limit is spent', async () => {
    const limited = double.addToken('alice', { scopes: ['read_repository'] });
    double.setGitRateLimit({ limit: 2, windowMs: 86_400_000 }, limited);

    // ls-remote over v2 makes two requests: the advertisement and ls-refs.
    await ok(['ls-remote', url('acme/web.git')], { token: limited });
    const over = await git(['ls-remote', url('acme/web.git')], { token: limited });
    expect(over.code).not.toBe(0);
    expect(over.stderr).toContain('429');
    const answer = await raw(double.url, '/acme/web.git/info/refs?service=git-upload-pack', { token: limited });
    expect(answer.status).toBe(429);
    expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
    expect(answer.headers['ratelimit-limit']).toBe('2');
    expect(answer.headers['ratelimit-name']).toBe('throttle_authenticated_git_http');

    expect(since().map((r) => [r.status, r.username])).toEqual([
      [200, 'alice'],
      [200, 'alice'],
      [429, 'alice'],
      [429, 'alice'],
    ]);
    // Another token of the same user, and the API, are not held back.
    await ok(['ls-remote', url('acme/web.git')], { token: aliceRead });
    const api = await fetch(`${double.url}/api/v4/user`, { headers: { 'private-token': limited } });
    expect(api.status).not.toBe(429);
    double.setGitRateLimit(null, limited);
    await ok(['ls-remote', url('acme/web.git')], { token: limited });
  });

  it('answers a renamed project at its new path, with the same repository, and not at the old one', async () => {
    const id = double.addProject('acme', 'old-name').id;
    const sha = await double.commit(id, { files: { 'a.txt': 'a\n' } });
    const repository = double.repositoryOf(id);
    double.renameProject(id, 'new-name');

    expect(await ok(['ls-remote', url('acme/new-name.git'), 'main'], { token: aliceRead })).toBe(`${sha}\trefs/heads/main`);
    const old = await git(['ls-remote', url('acme/old-name.git')], { token: aliceRead });
    expect(old.code).not.toBe(0);
    expect(old.stderr).toMatch(/not found/);
    expect(double.repositoryOf(id)).toBe(repository);
    // A branch started without a starting point is a root commit, the rest of the repository apart.
    const orphan = await double.commit(id, { branch: 'orphan', files: { 'b.txt': 'b\n' } });
    expect(await ok(['--git-dir', repository, 'rev-list', orphan])).toBe(orphan);
    expect(await ok(['--git-dir', repository, 'ls-tree', '--name-only', orphan])).toBe('b.txt');
  });

  it('answers 404 to anything else under a .git path, and never leaves the repository root', async () => {
    for (const [method, path] of [
      ['GET', '/acme/web.git/HEAD'],
      ['GET', '/acme/web.git/info/refs'],
      ['GET', '/acme/web.git/info/refs?service=git-upload-archive'],
      ['GET', '/acme/web.git/objects/info/packs'],
      ['GET', '/acme/web.git/git-upload-pack'],
      ['POST', '/acme/web.git/info/refs?service=git-upload-pack'],
      ['GET', '/acme/%2e%2e/acme/web.git/info/refs?service=git-upload-pack'],
      ['GET', '/acme/../acme/web.git/info/refs?service=git-upload-pack'],
      ['GET', '/web.git/info/refs?service=git-upload-pack'],
      ['GET', '/acme/web.git/../../../etc/passwd'],
    ]) {
      expect([method, path, (await raw(double.url, path, { method, token: aliceApi })).status]).toEqual([method, path, 404]);
    }
  });

  it('applies faults to git paths too', async () => {
    double.fault({ match: (r) => r.path.endsWith('/info/refs'), status: 503, times: 1 });

    const failed = await git(['ls-remote', url('acme/web.git')], { token: aliceRead });
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain('503');
    await ok(['ls-remote', url('acme/web.git')], { token: aliceRead });
    expect(since().map((r) => r.status)).toEqual([503, 200, 200]);
  });

  it('ends the backend when the client hangs up, and on close', async () => {
    const hangingRequest = (target: GitLabDouble) => {
      const req = request(`${target.url}/acme/web.git/git-upload-pack`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`oauth2:${aliceRead}`).toString('base64')}`,
          'content-type': 'application/x-git-upload-pack-request',
          'content-length': '1000',
        },
      });
      req.on('error', () => {});
      // Part of the body, and then nothing: the backend waits for the rest.
      req.write('0014command=ls-refs\n');
      return req;
    };
    const req = hangingRequest(double);
    const [pid] = await eventually(() => {
      const pids = double.gitProcessIds();
      expect(pids).toHaveLength(1);
      return pids;
    });
    req.destroy();
    await eventually(() => {
      expect(double.gitProcessIds()).toEqual([]);
      expect(isAlive(pid)).toBe(false);
    });
    // Recorded once, with what was sent before the hang-up: http-backend may send its head before it reads the body.
    expect(since().map((r) => `${r.method} ${r.path} ${r.username}`)).toEqual(['POST /acme/web.git/git-upload-pack alice']);
    expect([0, 200]).toContain(since()[0].status);

    const other = await GitLabDouble.start();
    other.addUser('alice');
    other.addToken('alice', { token: aliceRead, scopes: ['read_repository'] });
    other.addGroup('acme');
    const repository = other.repositoryOf(other.addProject('acme', 'web').id);
    const pending = hangingRequest(other);
    const [otherPid] = await eventually(() => {
      const pids = other.gitProcessIds();
      expect(pids).toHaveLength(1);
      return pids;
    });
    await other.close();
    pending.destroy();
    expect(isAlive(otherPid)).toBe(false);
    expect(existsSync(repository)).toBe(false);
  });
});
