/**
 * `npm run bench:sync [-- --quick] [-- --postgres]`: a plan run over 2,000 protected projects
 * on the GitLab test double, every token limited to the same number of requests per window,
 * with 1, 2 and 4 accounts in the pool (the organization's main login, plus 0, 1 or 3
 * effective credentials). The floor is the run's own request count at the rate the tokens
 * together are allowed: requests ÷ (accounts × per-token rate). A pool that spreads well runs
 * close to the floor, gains linearly with accounts, and is seldom answered 429. Each run starts
 * as a window opens and its last window is cut short, so a run can beat the floor by up to a window.
 *
 * Runs on embedded PGlite in a temp dir, or with --postgres on the PostgreSQL server
 * (BACKPLANE_BENCH_DATABASE_URL or BACKPLANE_TEST_DATABASE_URL) in a schema of its own,
 * dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { loadConfig } from '../src/config';
import { startService } from '../src/service';
import { GitLabDouble } from '../test/support/gitlab-double';
import { graphql, median } from './client';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';
const PROJECTS = 2000;
/** Per token and window: one account alone takes about 25 s over the 10,000 requests of a run. */
const RATE = { limit: 400, windowMs: 1000 };
const POOL_SIZES = [1, 2, 4];
const GROUP = 'bench/group';
/**
 * Repositories read at once (BACKPLANE_RUN_CONCURRENCY): enough requests in flight to use four
 * tokens' quotas while each request waits for GitLab and for its membership check.
 */
const CONCURRENCY = 48;

interface Setup {
  planId: string;
  credentialIds: string[];
  tokens: string[];
}

/** An organization whose group holds PROJECTS projects, all protected by the first sync, four credentials and a plan. */
async function setUp(url: string, token: string, gitlab: GitLabDouble): Promise<Setup> {
  const logins = ['bench-admin', 'bench-bot1', 'bench-bot2', 'bench-bot3'];
  const tokens = logins.map((login) => `glpat-bench-${login}-${randomBytes(8).toString('hex')}`);
  gitlab.addGroup('bench');
  gitlab.addGroup(GROUP);
  for (const [index, login] of logins.entries()) {
    gitlab.addUser(login);
    gitlab.addToken(login, { token: tokens[index], scopes: ['read_api', 'read_repository'] });
  }
  // One page of each list per project: a project read and four list pages, 5 requests each.
  for (let index = 0; index < PROJECTS; index++) gitlab.addProject(GROUP, `p${index}`, { branches: 3, tags: 1, issues: 2, mergeRequests: 1 });

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
  // The first sync protects every project (autoAddNewRepositories); wait until it has.
  for (;;) {
    const { repositories } = await graphql(
      url,
      token,
      'query($id: ID!) { repositories(organizationId: $id, protected: true, first: 1, after: null) { totalCount } }',
      { id: organizationId },
    );
    if (repositories.totalCount === PROJECTS) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { planId, credentialIds, tokens };
}

interface Sample {
  requests: number;
  wallMs: number;
  floorMs: number;
  refused: number;
}

async function runOnce(url: string, token: string, gitlab: GitLabDouble, idle: () => Promise<void>, setup: Setup, accounts: number): Promise<Sample> {
  const enabled = setup.credentialIds.map((credentialId, index) => ({ credentialId, enabled: index < accounts - 1 }));
  await graphql(url, token, 'mutation($p: ID!, $i: UpdatePlanCredentialsInput!) { updatePlanCredentials(planId: $p, input: $i) { id } }', {
    p: setup.planId,
    i: { additionalCredentialsEnabled: accounts > 1, credentials: enabled },
  });
  // Start in a fresh window, so that no run inherits a quota the one before spent.
  await new Promise((resolve) => setTimeout(resolve, RATE.windowMs - (Date.now() % RATE.windowMs) + 5));
  gitlab.resetRequests();
  const started = performance.now();
  const { runPlan } = await graphql(url, token, 'mutation($p: ID!) { runPlan(planId: $p) { id } }', { p: setup.planId });
  await idle();
  const wallMs = performance.now() - started;
  const { task } = await graphql(url, token, 'query($id: ID!) { task(id: $id) { status repositoriesDone repositoriesFailed reason } }', { id: runPlan.id });
  if (task.status !== 'COMPLETED' || task.repositoriesDone !== PROJECTS || task.repositoriesFailed !== 0)
    throw new Error(`the run did not complete: ${JSON.stringify(task)}`);
  const made = gitlab.requests.filter((request) => request.path.startsWith('/api/v4/projects/'));
  const requests = made.length;
  const refused = made.filter((request) => request.status === 429).length;
  const floorMs = (requests / (accounts * RATE.limit)) * RATE.windowMs;
  return { requests, wallMs, floorMs, refused };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((arg) => arg !== '--quick' && arg !== '--postgres');
  if (unknown.length > 0) throw new Error(`unknown argument ${unknown[0]}; usage: npm run bench:sync [-- --quick] [-- --postgres]`);
  const rounds = args.includes('--quick') ? 1 : 3;
  const onPostgres = args.includes('--postgres');
  const store = onPostgres ? 'postgres' : 'pglite';
  const dataDir = await mkdtemp(join(tmpdir(), 'backplane-bench-sync-'));
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
  try {
    const url = service.server.url;
    process.stdout.write(
      `Backplane plan-run benchmark${rounds === 1 ? ' (--quick)' : ''}: Node ${process.version}, ${availableParallelism()} CPUs, ${store}, ` +
        `${PROJECTS} projects, ${RATE.limit} requests per token per ${RATE.windowMs} ms, ${CONCURRENCY} repositories at once, ${rounds === 1 ? '1 run' : `median of ${rounds} runs`} each\n`,
    );
    const setupStarted = performance.now();
    const setup = await setUp(url, token, gitlab);
    process.stdout.write(`  set-up (projects, first sync protecting them all): ${((performance.now() - setupStarted) / 1000).toFixed(1)} s\n`);
    for (const tokenValue of setup.tokens) gitlab.setRateLimit(RATE, tokenValue);
    process.stdout.write(
      `  ${'accounts'.padEnd(9)}${'requests'.padStart(9)}${'wall s'.padStart(9)}${'floor s'.padStart(9)}${'wall/floor'.padStart(12)}${'429s'.padStart(8)}\n`,
    );
    for (const accounts of POOL_SIZES) {
      const samples: Sample[] = [];
      for (let round = 0; round < rounds; round++) samples.push(await runOnce(url, token, gitlab, () => service.app.jobs.idle(), setup, accounts));
      const pick = (value: (sample: Sample) => number) => median(samples.map(value));
      const requests = pick((s) => s.requests);
      const refusedShare = pick((s) => s.refused / s.requests);
      process.stdout.write(
        `  ${String(accounts).padEnd(9)}${String(requests).padStart(9)}${(pick((s) => s.wallMs) / 1000).toFixed(1).padStart(9)}${(pick((s) => s.floorMs) / 1000).toFixed(1).padStart(9)}` +
          `${pick((s) => s.wallMs / s.floorMs)
            .toFixed(2)
            .padStart(12)}${`${(refusedShare * 100).toFixed(2)}%`.padStart(8)}\n`,
      );
    }
  } finally {
    await service.close();
    await gitlab.close();
    await rm(dataDir, { recursive: true, force: true });
    if (onPostgres) {
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => client.end());
    }
  }
}

main().catch((error) => {
  process.stderr.write(`bench:sync failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
