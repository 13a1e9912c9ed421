/**
 * The double's repositories on disk: one bare repository per project, and one for its wiki once a
 * wiki page exists, named by project id so that a renamed project keeps its history. Commits are
 * made with git's plumbing, with a fixed author and a clock that ticks once per commit, so that a
 * test's repositories come out the same from run to run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CommitOptions {
  /** 'main' unless given. */
  branch?: string;
  /** Where a branch that does not exist yet starts (a branch name or a sha); without it, the new branch's first commit has no parent. */
  from?: string;
  /** Paths relative to the root of the tree, added or replaced; the rest of the branch's tree is kept. */
  files: Record<string, string | Buffer>;
  message?: string;
  /** Commit into the project's wiki repository, which this creates. */
  wiki?: boolean;
}

/**
 * GitLab's internal refs (Gitaly's InternalRefPrefixes): none can be pushed, and the hidden ones
 * are not served either; merge request, pipeline and environment refs can be fetched.
 */
const READ_ONLY_REFS = ['refs/environments/', 'refs/merge-requests/', 'refs/pipelines/'];
const HIDDEN_REFS = ['refs/keep-around/', 'refs/remotes/', 'refs/tmp/'];
/** 2026-01-01T00:00:00Z, the first commit's date. */
const EPOCH_SECONDS = 1_767_225_600;

export class GitRepos {
  private folder: string | undefined;
  private ticks = 0;

  /** The folder http-backend serves (GIT_PROJECT_ROOT), made on first use: most doubles never serve git. */
  get root(): string {
    this.folder ??= mkdtempSync(join(tmpdir(), 'gitlab-double-'));
    return this.folder;
  }

  /** Relative to root: '12.git', '12.wiki.git'. */
  static nameOf(projectId: number, wiki: boolean): string {
    return `${projectId}${wiki ? '.wiki' : ''}.git`;
  }

  /** The project's repository, created empty (default branch main) on first use, as GitLab has one for every project. */
  repositoryOf(projectId: number): string {
    const path = join(this.root, GitRepos.nameOf(projectId, false));
    if (!existsSync(path)) this.init(path);
    return path;
  }

  hasWiki(projectId: number): boolean {
    return existsSync(join(this.root, GitRepos.nameOf(projectId, true)));
  }

  /** The wiki's repository, created when asked to. */
  wikiOf(projectId: number, create: boolean): string | undefined {
    const path = join(this.root, GitRepos.nameOf(projectId, true));
    if (existsSync(path)) return path;
    if (!create) return undefined;
    this.init(path);
    return path;
  }

  async commit(projectId: number, options: CommitOptions): Promise<string> {
    const gitDir = options.wiki ? this.wikiOf(projectId, true)! : this.repositoryOf(projectId);
    const branch = `refs/heads/${options.branch ?? 'main'}`;
    const index = join(this.root, `index-${projectId}-${process.hrtime.bigint()}`);
    const tip = await tipOf(gitDir, branch);
    const parent = tip ?? (options.from === undefined ? undefined : await startOf(gitDir, options.from));
    const seconds = EPOCH_SECONDS + this.ticks++ * 60;
    try {
      const env = { GIT_INDEX_FILE: index };
      await git(gitDir, parent ? ['read-tree', parent] : ['read-tree', '--empty'], { env });
      for (const [path, content] of Object.entries(options.files)) {
        const blob = await git(gitDir, ['hash-object', '-w', '--stdin'], { input: Buffer.from(content) });
        await git(gitDir, ['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`], { env });
      }
      const tree = await git(gitDir, ['write-tree'], { env });
      const date = `@${seconds} +0000`;
      const sha = await git(
        gitDir,
        ['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-m', options.message ?? `Change ${Object.keys(options.files).join(', ')}`],
        {
          env: {
            GIT_AUTHOR_NAME: 'Double Author',
            GIT_AUTHOR_EMAIL: 'author@gitlab-double.test',
            GIT_AUTHOR_DATE: date,
            GIT_COMMITTER_NAME: 'Double Committer',
            GIT_COMMITTER_EMAIL: 'committer@gitlab-double.test',
            GIT_COMMITTER_DATE: date,
          },
        },
      );
      // The old value makes the update fail rather than lose a commit made meanwhile.
      await git(gitDir, ['update-ref', branch, sha, tip ?? '0'.repeat(40)]);
      return sha;
    } finally {
      rmSync(index, { force: true });
    }
  }

  /** A lightweight tag, of main's tip unless a target is given. */
  async tag(projectId: number, name: string, target?: string): Promise<void> {
    const gitDir = this.repositoryOf(projectId);
    const sha = target ?? (await tipOf(gitDir, 'refs/heads/main'));
    if (!sha) throw new Error(`project ${projectId} has no main branch to tag`);
    await git(gitDir, ['update-ref', `refs/tags/${name}`, sha]);
  }

  async setRef(projectId: number, ref: string, sha: string): Promise<void> {
    await git(this.repositoryOf(projectId), ['update-ref', checkedRef(ref), sha]);
  }

  async deleteRef(projectId: number, ref: string): Promise<void> {
    await git(this.repositoryOf(projectId), ['update-ref', '-d', checkedRef(ref)]);
  }

  remove(): void {
    if (this.folder) rmSync(this.folder, { recursive: true, force: true });
    this.folder = undefined;
  }

  private init(path: string): void {
    execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', path], { env: isolatedEnv(), stdio: 'ignore' });
    const config = (key: string, value: string) => execFileSync('git', ['config', '--add', key, value], { env: isolatedEnv({ GIT_DIR: path }) });
    for (const ref of [...READ_ONLY_REFS, ...HIDDEN_REFS]) config('receive.hideRefs', ref);
    for (const ref of HIDDEN_REFS) config('uploadpack.hideRefs', ref);
    config('receive.fsckObjects', 'true');
  }
}

/** An environment free of the user's git configuration and of any GIT_* variable of the test's own process. */
export function isolatedEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: tmpdir(),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    LC_ALL: 'C',
    ...extra,
  };
}

function checkedRef(ref: string): string {
  if (!ref.startsWith('refs/')) throw new Error(`not a full ref name: ${ref}`);
  execFileSync('git', ['check-ref-format', ref], { env: isolatedEnv() });
  return ref;
}

async function tipOf(gitDir: string, ref: string): Promise<string | undefined> {
  const sha = await git(gitDir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { allowFailure: true });
  return sha === '' ? undefined : sha;
}

async function startOf(gitDir: string, from: string): Promise<string> {
  const sha = (await tipOf(gitDir, `refs/heads/${from}`)) ?? (await tipOf(gitDir, from));
  if (!sha) throw new Error(`no commit ${from} to start a branch from`);
  return sha;
}

/** Runs git on the bare repository; its trimmed output. */
function git(gitDir: string, args: string[], options: { env?: Record<string, string>; input?: Buffer; allowFailure?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { env: isolatedEnv({ GIT_DIR: gitDir, ...options.env }), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 || options.allowFailure) resolve(code === 0 ? Buffer.concat(out).toString().trim() : '');
      else reject(new Error(`git ${args[0]} failed (${code}): ${Buffer.concat(err).toString().trim()}`));
    });
    child.stdin.end(options.input);
  });
}
