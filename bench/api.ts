/**
 * `npm run bench:api [-- --quick]`: the GraphQL API's cost next to its floor, a no-op GraphQL
 * call (`{ __typename }`, authenticated) served by the same server in the same run.
 *
 * Sequential calls over HTTP, interleaved round by round so that noise falls on every case alike:
 * a read of a plan with its credentials (read models), a credential toggle (decide, append, wait
 * until every read model shows it, answer with the plan), the same toggle's command called in the
 * process without HTTP or GraphQL (what the mutation costs beyond the no-op call's work), and the
 * no-op. Then throughput with 8
 * clients at once. Runs on the PostgreSQL server (BACKPLANE_BENCH_DATABASE_URL, in a schema of its
 * own, dropped at the end) and on embedded PGlite.
 *
 * Adding an organization or a credential asks GitLab about its token first, and adding an
 * organization lists its repositories: a GitLab test double on loopback answers, so that the run
 * measures Backplane and needs no GitLab.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { togglePlanCredential } from '../src/app/plans';
import { loadConfig } from '../src/config';
import { authenticate } from '../src/graphql/authenticate';
import { startService, type Service } from '../src/service';
import { GitLabDouble } from '../test/support/gitlab-double';
import { graphql, median, percentile } from './client';
import { setUp } from './plan-setup';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';
const CLIENTS = 8;

interface Plan {
  rounds: number;
  throughputMs: number;
}
const FULL: Plan = { rounds: 400, throughputMs: 5000 };
const QUICK: Plan = { rounds: 60, throughputMs: 1000 };

type Call = () => Promise<void>;

async function timed(call: Call): Promise<number> {
  const start = process.hrtime.bigint();
  await call();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function throughput(calls: Call[], ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let done = 0;
  await Promise.all(
    calls.map(async (call) => {
      while (Date.now() < deadline) {
        await call();
        done++;
      }
    }),
  );
  return (done * 1000) / ms;
}

async function measure(label: string, service: Service, gitlab: GitLabDouble, token: string, plan: Plan): Promise<string[]> {
  const url = service.server.url;
  const { planIds, credentialId, credentialIds } = await setUp(url, token, gitlab, CLIENTS, CLIENTS);
  // The organization's first repository sync runs in the background: not while the clock runs.
  await service.app.jobs.idle();
  const noop: Call = async () => void (await graphql(url, token, '{ __typename }'));
  const read =
    (planId: string): Call =>
    async () =>
      void (await graphql(
        url,
        token,
        'query($id: ID!) { plan(id: $id) { id version credentials { credential { id login } enabled effective enabledBy { id } } } }',
        { id: planId },
      ));
  const flips = new Map<string, boolean>();
  const toggle =
    (planId: string, credential = credentialId): Call =>
    async () => {
      const key = `${planId}/${credential}`;
      const enabled = !(flips.get(key) ?? false);
      flips.set(key, enabled);
      await graphql(url, token, 'mutation($p: ID!, $c: ID!, $e: Boolean!) { togglePlanCredential(planId: $p, credentialId: $c, enabled: $e) { id version } }', {
        p: planId,
        c: credential,
        e: enabled,
      });
    };

  // The same toggle's command called in this process, as the resolver calls it, on a plan of its
  // own: what the mutation costs beyond its HTTP request, GraphQL and token look-up, which the
  // no-op call costs as well. At or above the no-op call, no toggle reaches half of it.
  const principal = await authenticate(service.app.db, () => service.app.catchingUp(), `Bearer ${token}`);
  if (!principal) throw new Error('the benchmark token did not authenticate');
  const command: Call = async () => {
    const key = `${planIds[1]}/${credentialId}`;
    const enabled = !(flips.get(key) ?? false);
    flips.set(key, enabled);
    await togglePlanCredential(service.app, { principal, correlationId: randomUUID() }, planIds[1], credentialId, enabled);
  };
  const cases: [string, Call][] = [
    ['no-op call (floor)', noop],
    ['plan query', read(planIds[0])],
    ['toggle mutation', toggle(planIds[0])],
    ['toggle command alone', command],
  ];
  for (let warm = 0; warm < 20; warm++) for (const [, call] of cases) await call();
  const samples = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  for (let round = 0; round < plan.rounds; round++) for (const [name, call] of cases) samples.get(name)!.push(await timed(call));

  const floor = median(samples.get('no-op call (floor)')!);
  const lines = [`${label}: sequential calls, median of ${plan.rounds}`];
  for (const [name] of cases) {
    const value = median(samples.get(name)!);
    const p99 = percentile(samples.get(name)!, 99);
    lines.push(`  ${name.padEnd(20)} ${value.toFixed(2).padStart(7)} ms   floor/this ${(floor / value).toFixed(2)}   p99 ${p99.toFixed(2).padStart(6)} ms`);
  }
  const noopRate = await throughput(
    planIds.map(() => noop),
    plan.throughputMs,
  );
  const readRate = await throughput(planIds.map(read), plan.throughputMs);
  const toggleRate = await throughput(
    planIds.map((planId) => toggle(planId)),
    plan.throughputMs,
  );
  // Each client its own credential: their toggles judge different things and need not take turns.
  const ownCredentialRate = await throughput(
    planIds.map((planId, index) => toggle(planId, credentialIds[index])),
    plan.throughputMs,
  );
  lines.push(`${label}: ${CLIENTS} clients at once, calls per second`);
  lines.push(`  ${'no-op call (floor)'.padEnd(20)} ${noopRate.toFixed(0).padStart(7)}/s`);
  lines.push(`  ${'plan query'.padEnd(20)} ${readRate.toFixed(0).padStart(7)}/s   this/floor ${(readRate / noopRate).toFixed(2)}`);
  lines.push(
    `  ${'toggle mutation'.padEnd(20)} ${toggleRate.toFixed(0).padStart(7)}/s   this/floor ${(toggleRate / noopRate).toFixed(2)}   (one credential, 8 plans)`,
  );
  lines.push(
    `  ${'toggle mutation'.padEnd(20)} ${ownCredentialRate.toFixed(0).padStart(7)}/s   this/floor ${(ownCredentialRate / noopRate).toFixed(2)}   (a credential and a plan each)`,
  );
  return lines;
}

async function runOn(store: 'postgres' | 'pglite', plan: Plan): Promise<string[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'backplane-bench-'));
  const url = process.env.BACKPLANE_BENCH_DATABASE_URL ?? DEFAULT_URL;
  const schema = `bp_bench_${randomBytes(6).toString('hex')}`;
  const token = `bpk_bench_${randomBytes(24).toString('base64url')}`;
  const config = loadConfig({
    BACKPLANE_EVENT_STORE: store,
    BACKPLANE_DATA_DIR: dataDir,
    ...(store === 'postgres' ? { BACKPLANE_DATABASE_URL: url, BACKPLANE_DATABASE_SCHEMA: schema } : {}),
    BACKPLANE_MASTER_KEY: randomBytes(32).toString('base64'),
    BACKPLANE_BOOTSTRAP_TOKEN: token,
    PORT: '0',
  });
  // One double per run: each run's service starts on a store of its own, so users and groups are new to it as well.
  const gitlab = await GitLabDouble.start();
  const service = await startService(config, { host: '127.0.0.1' }).catch(async (error: unknown) => {
    await gitlab.close();
    throw error;
  });
  try {
    return await measure(store === 'postgres' ? 'PostgreSQL' : 'PGlite', service, gitlab, token, plan);
  } finally {
    await service.close();
    await gitlab.close();
    await rm(dataDir, { recursive: true, force: true });
    if (store === 'postgres') {
      const client = new Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => client.end());
    }
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((arg) => arg !== '--quick');
  if (unknown.length > 0) throw new Error(`unknown argument ${unknown[0]}; usage: npm run bench:api [-- --quick]`);
  const plan = args.includes('--quick') ? QUICK : FULL;
  process.stdout.write(`Backplane API benchmark${plan === QUICK ? ' (--quick)' : ''}: Node ${process.version}, ${availableParallelism()} CPUs\n`);
  for (const store of ['postgres', 'pglite'] as const) process.stdout.write(`${(await runOn(store, plan)).join('\n')}\n`);
}

main().catch((error) => {
  process.stderr.write(`bench:api failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
