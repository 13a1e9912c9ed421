/**
 * `npm run bench:backup [-- --quick] [-- --postgres]`: plan runs that back up 200 repositories
 * of about 1 MB each from the GitLab test double (real git over smart HTTP), with 1, 2 and 4
 * accounts in the pool, each from empty storage and empty mirrors; then, with 4 accounts, a run
 * after 5% of the repositories gained a commit. Printed against floors measured in the same run:
 * - a plain `git clone --mirror` of every repository from the same double, as many at once as
 *   the plan run reads (BACKPLANE_RUN_CONCURRENCY): what git alone does with these repositories;
 * - the rate-limit floor: the run's API requests at the rate its tokens are allowed together.
 * Also: the bytes the second run stored as a share of the first's, and the time to restore one
 * repository from its archive (download the .tar.gz, extract, `git clone` the bundle).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { loadConfig } from '../src/config';
import { startService } from '../src/service';
import { GitLabDouble } from '../test/support/gitlab-double';
import { graphql, median } from './client';

const run = promisify(execFile);
const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';
const GROUP = 'bench/backup';
const REPOSITORY_BYTES = 1024 * 1024;
/** API requests per token and window (git requests have GitLab's own, higher limit, not set here). */
const RATE = { limit: 200, windowMs: 1000 };
const CONCURRENCY = 4;
const POOL_SIZES = [1, 2, 4];

/** About `bytes` of text that compresses like source code does, not like zeros. */
function sourceLike(bytes: number): string {
  const words = Array.from({ length: 512 }, () => randomBytes(3 + (randomBytes(1)[0] % 6)).toString('base64url'));
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    const line = `  const ${words[lines.length % 512]} = ${words[(lines.length * 7) % 512]}(${randomBytes(6).toString('hex')});`;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

interface Setup {
  planId: string;
  credentialIds: string[];
  tokens: string[];
  projects: { id: number; fullPath: string }[];
}

async function setUp(url: string, token: string, gitlab: GitLabDouble, count: number): Promise<Setup> {
  const logins = ['backup-admin', 'backup-bot1', 'backup-bot2', 'backup-bot3'];
  const tokens = logins.map((login) => `glpat-bench-${login}-${randomBytes(8).toString('hex')}`);
  gitlab.addGroup('bench');
  gitlab.addGroup(GROUP);
  for (const [index, login] of logins.entries()) {
    gitlab.addUser(login);
    gitlab.addToken(login, { token: tokens[index], scopes: ['read_api', 'read_repository'] });
  }
  const projects: { id: number; fullPath: string }[] = [];
  for (let index = 0; index < count; index++) {
    const project = gitlab.addProject(GROUP, `r${index}`, { issues: 2, mergeRequests: 1, notes: 2 });
    // Three commits of about a third each: a history, not one blob.
    for (let part = 0; part < 3; part++) {
      await gitlab.commit(project.id, { files: { [`src/part${part}.ts`]: sourceLike(REPOSITORY_BYTES / 3) }, message: `part ${part}` });
    }
    projects.push(project);
  }
  const store = async (name: string, secret: string) =>
    (await graphql(url, token, 'mutation($i: StorePasswordInput!) { storePassword(input: $i) { id } }', { i: { name, secret } })).storePassword.id as string;
  const passwordIds: string[] = [];
  for (const [index, login] of logins.entries()) passwordIds.push(await store(login, tokens[index]));
  const device = (await graphql(url, token, '{ devices { id name } }')).devices.find((d: { name: string }) => d.name === 'local').id;
  const organizationId = (
    await graphql(url, token, 'mutation($i: AddOrganizationInput!) { addOrganization(input: $i) { id } }', {
      i: {
        name: GROUP,
        gitlabUrl: gitlab.url,
        authMethod: 'TOKEN',
        login: logins[0],
        passwordId: passwordIds[0],
        repositoriesSync: { intervalMinutes: 1440 },
        defaultDeviceId: device,
        autoAddNewRepositories: true,
      },
    })
  ).addOrganization.id as string;
  const credentialIds: string[] = [];
  for (let index = 1; index < logins.length; index++) {
    const added = await graphql(url, token, 'mutation($i: AddCredentialInput!) { addCredential(input: $i) { id } }', {
      i: { organizationId, login: logins[index], passwordId: passwordIds[index] },
    });
    credentialIds.push(added.addCredential.id);
  }
  const planId = (await graphql(url, token, 'mutation($i: CreatePlanInput!) { createPlan(input: $i) { id } }', { i: { organizationId, name: 'bench' } }))
    .createPlan.id as string;
  for (;;) {
    const { repositories } = await graphql(
      url,
      token,
      'query($id: ID!) { repositories(organizationId: $id, protected: true, first: 1, after: null) { totalCount } }',
      { id: organizationId },
    );
    if (repositories.totalCount === count) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { planId, credentialIds, tokens, projects };
}

interface Sample {
  wallMs: number;
  /** Plain bytes of what the snapshots hold. */
  bytes: number;
  /** Bytes written to storage (compressed, encrypted). */
  written: number;
  apiRequests: number;
  floorMs: number;
}

async function backUp(
  url: string,
  token: string,
  gitlab: GitLabDouble,
  idle: () => Promise<void>,
  setup: Setup,
  accounts: number,
): Promise<Sample & { taskId: string }> {
  const enabled = setup.credentialIds.map((credentialId, index) => ({ credentialId, enabled: index < accounts - 1 }));
  await graphql(url, token, 'mutation($p: ID!, $i: UpdatePlanCredentialsInput!) { updatePlanCredentials(planId: $p, input: $i) { id } }', {
    p: setup.planId,
    i: { additionalCredentialsEnabled: accounts > 1, credentials: enabled },
  });
  await new Promise((resolve) => setTimeout(resolve, RATE.windowMs - (Date.now() % RATE.windowMs) + 5));
  gitlab.resetRequests();
  const started = performance.now();
  const { runPlan } = await graphql(url, token, 'mutation($p: ID!) { runPlan(planId: $p) { id } }', { p: setup.planId });
  await idle();
  const wallMs = performance.now() - started;
  const { task } = await graphql(url, token, 'query($id: ID!) { task(id: $id) { status repositoriesDone repositoriesFailed reason bytesWritten } }', {
    id: runPlan.id,
  });
  if (task.status !== 'COMPLETED' || task.repositoriesFailed !== 0) throw new Error(`the run did not complete: ${JSON.stringify(task)}`);
  let bytes = 0;
  let after: string | null = null;
  for (;;) {
    const page: any = await graphql(
      url,
      token,
      'query($id: ID!, $after: String) { task(id: $id) { snapshots(first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { bytes } } } } }',
      { id: runPlan.id, after },
    );
    for (const edge of page.task.snapshots.edges) bytes += edge.node.bytes;
    if (!page.task.snapshots.pageInfo.hasNextPage) break;
    after = page.task.snapshots.pageInfo.endCursor;
  }
  const apiRequests = gitlab.requests.filter((request) => request.path.startsWith('/api/v4/projects/')).length;
  return { taskId: runPlan.id, wallMs, bytes, written: task.bytesWritten, apiRequests, floorMs: (apiRequests / (accounts * RATE.limit)) * RATE.windowMs };
}

/** Plain `git clone --mirror` of every repository, CONCURRENCY at once: the git floor. */
async function cloneLoop(gitlab: GitLabDouble, setup: Setup, into: string): Promise<number> {
  await rm(into, { recursive: true, force: true });
  await mkdir(into, { recursive: true });
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: into,
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'http.extraHeader',
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`oauth2:${setup.tokens[0]}`).toString('base64')}`,
  };
  const queue = [...setup.projects];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let project = queue.shift(); project; project = queue.shift()) {
        await run('git', ['clone', '--quiet', '--mirror', `${gitlab.url}/${project.fullPath}.git`, join(into, `${project.id}.git`)], { env });
      }
    }),
  );
  return performance.now() - started;
}

async function restoreOne(url: string, token: string, taskId: string, into: string): Promise<number> {
  const { task } = await graphql(url, token, 'query($id: ID!) { task(id: $id) { snapshots(first: 1) { edges { node { archiveUrl } } } } }', { id: taskId });
  const archiveUrl = task.snapshots.edges[0].node.archiveUrl as string;
  await rm(into, { recursive: true, force: true });
  await mkdir(into, { recursive: true });
  const started = performance.now();
  const response = await fetch(new URL(archiveUrl, url), { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200) throw new Error(`the archive answered ${response.status}`);
  await writeFile(join(into, 'archive.tar.gz'), Buffer.from(await response.arrayBuffer()));
  await run('tar', ['-xzf', 'archive.tar.gz'], { cwd: into });
  const { stdout } = await run('find', [into, '-name', 'repository.bundle']);
  await run('git', ['clone', '--quiet', '--mirror', stdout.trim().split('\n')[0], join(into, 'restored.git')]);
  return performance.now() - started;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((arg) => arg !== '--quick' && arg !== '--postgres');
  if (unknown.length > 0) throw new Error(`unknown argument ${unknown[0]}; usage: npm run bench:backup [-- --quick] [-- --postgres]`);
  const quick = args.includes('--quick');
  const count = quick ? 40 : 200;
  const onPostgres = args.includes('--postgres');
  const store = onPostgres ? 'postgres' : 'pglite';
  const dataDir = await mkdtemp(join(tmpdir(), 'backplane-bench-backup-'));
  const databaseUrl = process.env.BACKPLANE_BENCH_DATABASE_URL ?? process.env.BACKPLANE_TEST_DATABASE_URL ?? DEFAULT_URL;
  const schema = `bp_bench_${randomBytes(6).toString('hex')}`;
  const token = `bpk_bench_${randomBytes(24).toString('base64url')}`;
  const config = loadConfig({
    BACKPLANE_EVENT_STORE: store,
    BACKPLANE_DATA_DIR: dataDir,
    ...(onPostgres ? { BACKPLANE_DATABASE_URL: databaseUrl, BACKPLANE_DATABASE_SCHEMA: schema } : {}),
    BACKPLANE_MASTER_KEY: randomBytes(32).toString('base64'),
    BACKPLANE_BOOTSTRAP_TOKEN: token,
    PORT: '0',
  });
  const gitlab = await GitLabDouble.start();
  const service = await startService(config, { host: '127.0.0.1', work: { runConcurrency: CONCURRENCY } }).catch(async (error: unknown) => {
    await gitlab.close();
    throw error;
  });
  const scratch = await mkdtemp(join(tmpdir(), 'backplane-bench-clones-'));
  const mb = (bytes: number) => bytes / 1024 / 1024;
  try {
    const url = service.server.url;
    const idle = () => service.app.jobs.idle();
    process.stdout.write(
      `Backplane backup benchmark${quick ? ' (--quick)' : ''}: Node ${process.version}, ${availableParallelism()} CPUs, ${store}, ` +
        `${count} repositories of ~${mb(REPOSITORY_BYTES).toFixed(0)} MB, ${CONCURRENCY} at once, ${RATE.limit} API requests per token per ${RATE.windowMs} ms\n`,
    );
    const setupStarted = performance.now();
    const setup = await setUp(url, token, gitlab, count);
    process.stdout.write(`  set-up (repositories, first sync): ${((performance.now() - setupStarted) / 1000).toFixed(1)} s\n`);
    for (const tokenValue of setup.tokens) gitlab.setRateLimit(RATE, tokenValue);

    const backups = join(dataDir, 'backups');
    process.stdout.write(
      `  ${'accounts'.padEnd(9)}${'stored MB'.padStart(10)}${'wall s'.padStart(8)}${'MB/s'.padStart(7)}${'clone s'.padStart(9)}${'clone MB/s'.padStart(11)}` +
        `${'ours/clone'.padStart(11)}${'API reqs'.padStart(9)}${'floor s'.padStart(9)}${'wall/floor'.padStart(11)}\n`,
    );
    let last: (Sample & { taskId: string }) | null = null;
    for (const accounts of POOL_SIZES) {
      // From nothing each time: no mirror, no stored object, so that every pool size does the whole work.
      await rm(backups, { recursive: true, force: true });
      const cloneMs = await cloneLoop(gitlab, setup, join(scratch, 'clones'));
      const sample = await backUp(url, token, gitlab, idle, setup, accounts);
      const rate = mb(sample.bytes) / (sample.wallMs / 1000);
      const cloneRate = mb(sample.bytes) / (cloneMs / 1000);
      process.stdout.write(
        `  ${String(accounts).padEnd(9)}${mb(sample.written).toFixed(1).padStart(10)}${(sample.wallMs / 1000).toFixed(1).padStart(8)}${rate.toFixed(1).padStart(7)}` +
          `${(cloneMs / 1000).toFixed(1).padStart(9)}${cloneRate.toFixed(1).padStart(11)}${(rate / cloneRate).toFixed(2).padStart(11)}` +
          `${String(sample.apiRequests).padStart(9)}${(sample.floorMs / 1000).toFixed(1).padStart(9)}${(sample.wallMs / sample.floorMs).toFixed(2).padStart(11)}\n`,
      );
      last = sample;
    }
    // 5% of the repositories gain a commit of about 50 KB; the next run stores their new objects only.
    const changed = setup.projects.filter((_, index) => index % 20 === 0);
    for (const project of changed) await gitlab.commit(project.id, { files: { 'src/change.ts': sourceLike(50 * 1024) }, message: 'a change' });
    const second = await backUp(url, token, gitlab, idle, setup, POOL_SIZES.at(-1)!);
    const share = second.written / last!.written;
    process.stdout.write(
      `  after ${changed.length} of ${count} changed (${POOL_SIZES.at(-1)} accounts): stored ${mb(second.written).toFixed(2)} MB in ${(second.wallMs / 1000).toFixed(1)} s, ` +
        `${(share * 100).toFixed(2)}% of the first run's ${mb(last!.written).toFixed(1)} MB (target under 10%: ${share < 0.1 ? 'met' : 'NOT met'})\n`,
    );
    const restores: number[] = [];
    for (let round = 0; round < 3; round++) restores.push(await restoreOne(url, token, second.taskId, join(scratch, 'restore')));
    process.stdout.write(
      `  restore of one repository from its archive (download, extract, git clone the bundle): median ${median(restores).toFixed(0)} ms of 3\n`,
    );
  } finally {
    await service.close();
    await gitlab.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
    if (onPostgres) {
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => client.end());
    }
  }
}

main().catch((error) => {
  process.stderr.write(`bench:backup failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
