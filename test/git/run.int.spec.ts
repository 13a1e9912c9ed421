import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleRefs } from '../../src/git/bundle';
import { GitError } from '../../src/git/errors';
import { listRefs } from '../../src/git/refs';
import { runGit } from '../../src/git/run';
import { checkGit } from '../../src/git/version';
import { GitLabError } from '../../src/gitlab/types';

const TOKEN = 'made-up-Secret-0123456789';

async function listen(handler: (headers: IncomingHttpHeaders, url: string) => { status: number; headers?: Record<string, string> }): Promise<Server> {
  const server = createServer((req, res) => {
    const answer = handler(req.headers, req.url ?? '/');
    res.writeHead(answer.status, answer.headers ?? {});
    res.end('');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const portOf = (server: Server) => (server.address() as AddressInfo).port;

describe('runGit', () => {
  let work: string;
  let repo: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'git-run-spec-'));
    repo = join(work, 'repo.git');
    execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', repo]);
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("gives git none of the service's environment, no user config, and the token only as a config value", async () => {
    process.env.BACKPLANE_TEST_FAKE_SECRET = 'made-up-secret-value';
    const home = join(work, 'home');
    execFileSync('mkdir', ['-p', home]);
    writeFileSync(join(home, '.gitconfig'), '[alias]\n\tleaked = !echo from-user-config\n');
    const previousHome = process.env.HOME;
    process.env.HOME = home;
    try {
      const { stdout } = await runGit(['printenv'], { token: TOKEN, config: { 'alias.printenv': '!env' } });
      const env = stdout.toString('utf8');
      expect(env).not.toContain('BACKPLANE_TEST_FAKE_SECRET');
      expect(env).not.toContain('made-up-secret-value');
      expect(env).not.toContain(TOKEN);
      expect(env).toMatch(/^GIT_CONFIG_VALUE_\d+=Authorization: Basic /m);
      expect(env).not.toContain(`HOME=${home}`);
      await expect(runGit(['leaked'])).rejects.toBeInstanceOf(GitError);
    } finally {
      process.env.HOME = previousHome;
      delete process.env.BACKPLANE_TEST_FAKE_SECRET;
    }
  });

  it('takes input, and gives stdout as a buffer or a stream', async () => {
    const { stdout } = await runGit(['hash-object', '-w', '--stdin'], { cwd: repo, input: Buffer.from('hello\n') });
    const blob = stdout.toString('utf8').trim();
    expect(blob).toBe('ce013625030ba8dba906f756967f9e9ca394464a');
    const tree = (await runGit(['mktree'], { cwd: repo, input: Buffer.from(`100644 blob ${blob}\thello.txt\n`) })).stdout.toString('utf8').trim();
    const commit = (await runGit(['commit-tree', tree, '-m', 'hello'], { cwd: repo, config: { 'user.name': 'T', 'user.email': 't@example.com' } })).stdout
      .toString('utf8')
      .trim();
    await runGit(['update-ref', 'refs/heads/main', commit], { cwd: repo });
    expect(await listRefs(repo)).toEqual([{ name: 'refs/heads/main', sha: commit }]);

    const streamed = runGit(['bundle', 'create', '--quiet', '-', '--all'], { cwd: repo, stdout: 'stream' });
    const chunks: Buffer[] = [];
    for await (const chunk of streamed.stdout) chunks.push(chunk as Buffer);
    await streamed.done;
    const file = join(work, 'streamed.bundle');
    writeFileSync(file, Buffer.concat(chunks));
    expect(await bundleRefs(file)).toContainEqual({ name: 'refs/heads/main', sha: commit });
  });

  it('finds no repository where none is named, though the service runs in one', async () => {
    expect(execFileSync('git', ['rev-parse', '--git-dir'], { cwd: process.cwd() }).length).toBeGreaterThan(0);
    await expect(runGit(['rev-parse', '--git-dir'])).rejects.toThrow(/not a git repository/);
    await expect(runGit(['rev-parse', '--git-dir'], { gitDir: join(work, 'none') })).rejects.toThrow(/not a git repository/);
  });

  it('stops git when its input fails, rather than leave it waiting', async () => {
    const input = new PassThrough();
    const running = runGit(['hash-object', '--stdin'], { input, timeoutMs: 20_000 });
    input.write('part of it');
    setTimeout(() => input.destroy(new Error('the source broke')), 100);
    const started = Date.now();
    const error = await running.catch((caught) => caught);
    expect(error).toBeInstanceOf(GitError);
    expect(error.message).toContain('its input failed: the source broke');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses remotes of other protocols than http(s): file, ext', async () => {
    const local = await runGit(['ls-remote', `file://${repo}`], { remote: `file://${repo}` }).catch((error) => error);
    expect(local.message).toMatch(/transport 'file' not allowed/);
    const marker = join(work, 'ext-ran');
    const ext = await runGit(['ls-remote', `ext::sh -c touch% ${marker}`]).catch((error) => error);
    expect(ext.message).toMatch(/transport 'ext' not allowed/);
    expect(() => execFileSync('test', ['-e', marker])).toThrow();
  });

  it('does not follow a redirect, so the token does not go to another host', async () => {
    const seen: (string | undefined)[] = [];
    const elsewhere = await listen((headers) => {
      seen.push(headers.authorization);
      return { status: 404 };
    });
    const redirecting = await listen(() => ({
      status: 302,
      headers: { location: `http://127.0.0.1:${portOf(elsewhere)}/stolen.git/info/refs?service=git-upload-pack` },
    }));
    try {
      const url = `http://127.0.0.1:${portOf(redirecting)}/acme/web.git`;
      const error = await runGit(['ls-remote', url], { token: TOKEN, remote: url }).catch((caught) => caught);
      expect(error).toBeInstanceOf(GitLabError);
      expect(error.failure).toBe('BAD_RESPONSE');
      expect(seen).toEqual([]);
    } finally {
      redirecting.close();
      elsewhere.close();
    }
  });

  it('keeps control characters and direction marks a server sends out of a message', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end('');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${portOf(server)}/acme/\u202Eweb.git`;
      const error = await runGit(['ls-remote', url], { token: TOKEN, remote: url }).catch((caught) => caught);
      expect(error.failure).toBe('FORBIDDEN');
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the test asserts that no control character reaches the message
      expect(error.message).not.toMatch(/[\u0000-\u001f\u202e]/);
    } finally {
      server.close();
    }
  });

  it('names the operation and the URL without userinfo in a failure, and never the token', async () => {
    const server = await listen((headers) => ({ status: headers.authorization ? 500 : 401, headers: { 'www-authenticate': 'Basic realm="x"' } }));
    try {
      const url = `http://127.0.0.1:${portOf(server)}/acme/web.git`;
      const error = await runGit(['ls-remote', url], {
        token: TOKEN,
        remote: `http://someone:${TOKEN}@127.0.0.1:${portOf(server)}/acme/web.git`,
        operation: 'git ls-remote',
      }).catch((caught) => caught);
      expect(error.failure).toBe('SERVER_ERROR');
      expect(error.details.status).toBe(500);
      expect(error.message).toContain(`git ls-remote of ${url} failed`);
      expect(error.message).not.toContain(TOKEN);
      expect(error.message).not.toContain('someone');
    } finally {
      server.close();
    }
  });
});

describe('checkGit', () => {
  it('gives the version of the git on PATH', async () => {
    expect((await checkGit()).version).toMatch(/^\d+\.\d+/);
  });

  it('says what to install when git is not on PATH', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const error = await checkGit().catch((caught) => caught);
      expect(error).toBeInstanceOf(GitError);
      expect(error.message).toMatch(/^git is not installed: Backplane needs the git client \(2\.31 or later\) on PATH.*apt-get install git/);
    } finally {
      process.env.PATH = path;
    }
  });
});
