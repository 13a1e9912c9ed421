import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitError } from '../../src/git/errors';
import { fetchMirror } from '../../src/git/mirror';
import { GitLabError } from '../../src/gitlab/types';
import { GitLabDouble } from '../support/gitlab-double';

/** Every process of the host whose command line holds `text`, read from /proc as ps does. */
function processesWith(text: string): { pid: number; args: string }[] {
  const found: { pid: number; args: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`).toString('utf8').split('\0').join(' ');
      if (args.includes(text)) found.push({ pid: Number(entry), args });
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('not in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('git processes of a fetch', () => {
  let double: GitLabDouble;
  let token: string;
  let work: string;

  beforeAll(async () => {
    double = await GitLabDouble.start();
    double.addUser('alice');
    token = double.addToken('alice');
    double.addGroup('acme', { members: ['alice'] });
    for (const name of ['slow', 'stopped', 'late', 'shared', 'stale']) {
      const project = double.addProject('acme', name);
      await double.commit(project.id, { files: { [`${name}.txt`]: `${name}\n` } });
    }
    work = mkdtempSync(join(tmpdir(), 'git-processes-spec-'));
  });

  afterEach(() => double.clearFaults());

  afterAll(async () => {
    await double.close();
    rmSync(work, { recursive: true, force: true });
  });

  const held = (name: string, delayMs: number) => double.fault({ match: (request) => request.path === `/acme/${name}.git/info/refs`, delayMs, times: 1 });

  it('shows the token on no command line while git runs, and git has the repository URL only', async () => {
    held('slow', 1500);
    const url = `${double.url}/acme/slow.git`;
    const running = fetchMirror({ url, dir: join(work, 'slow.git'), token });
    await until(() => processesWith('/acme/slow.git').length > 0);
    const basic = Buffer.from(`oauth2:${token}`).toString('base64');
    expect(processesWith(token)).toEqual([]);
    expect(processesWith(basic)).toEqual([]);
    expect(processesWith('/acme/slow.git').every(({ args }) => !args.includes('@'))).toBe(true);
    await running;
  });

  it('stops on abort, as ABORTED, with no git process left', async () => {
    held('stopped', 5000);
    const url = `${double.url}/acme/stopped.git`;
    const controller = new AbortController();
    const running = fetchMirror({ url, dir: join(work, 'stopped.git'), token, signal: controller.signal });
    await until(() => processesWith('/acme/stopped.git').length > 0);
    const pids = processesWith('/acme/stopped.git').map(({ pid }) => pid);
    const started = Date.now();
    controller.abort();
    const error = await running.catch((caught) => caught);
    expect(error).toBeInstanceOf(GitLabError);
    expect(error.failure).toBe('ABORTED');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(pids.filter((pid) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '))).toEqual([]);
    expect(processesWith('/acme/stopped.git')).toEqual([]);
    expect(existsSync(join(work, 'stopped.git.lock'))).toBe(false);
  });

  it('stops at its timeout, as TIMEOUT, with no git process left', async () => {
    held('late', 5000);
    const url = `${double.url}/acme/late.git`;
    const error = await fetchMirror({ url, dir: join(work, 'late.git'), token, timeoutMs: 500 }).catch((caught) => caught);
    expect(error).toBeInstanceOf(GitLabError);
    expect(error.failure).toBe('TIMEOUT');
    expect(error.message).toContain(url);
    expect(processesWith('/acme/late.git')).toEqual([]);
  });

  it('lets fetches into one mirror take turns, and removes the lock after', async () => {
    const url = `${double.url}/acme/shared.git`;
    const dir = join(work, 'shared.git');
    held('shared', 500);
    const results = await Promise.all([1, 2, 3].map(() => fetchMirror({ url, dir, token })));
    expect(results.map((result) => result.changed).sort()).toEqual([false, false, true]);
    for (const result of results) expect(result.refs).toEqual(results[0].refs);
    expect(results[0].refs).toHaveLength(1);
    expect(existsSync(`${dir}.lock`)).toBe(false);
  });

  it('takes over a lock untouched for a minute, and waits for a fresh one until aborted or out of time', async () => {
    const url = `${double.url}/acme/stale.git`;
    const dir = join(work, 'stale.git');
    writeFileSync(`${dir}.lock`, '1 long ago\n');
    const old = new Date(Date.now() - 120_000);
    utimesSync(`${dir}.lock`, old, old);
    expect((await fetchMirror({ url, dir, token, timeoutMs: 60_000 })).refs).toHaveLength(1);

    writeFileSync(`${dir}.lock`, '1 now\n');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const error = await fetchMirror({ url, dir, token, timeoutMs: 60_000, signal: controller.signal }).catch((caught) => caught);
    expect(error).toBeInstanceOf(GitLabError);
    expect(error.failure).toBe('ABORTED');
    expect(existsSync(`${dir}.lock`)).toBe(true);

    writeFileSync(`${dir}.lock`, '1 now\n');
    const waited = await fetchMirror({ url, dir, token, timeoutMs: 400 }).catch((caught) => caught);
    expect(waited).toBeInstanceOf(GitError);
    expect(waited.message).toContain('still held by another run');
    rmSync(`${dir}.lock`);
  });
});
