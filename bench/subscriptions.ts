/**
 * `npm run bench:subscriptions [-- --quick]`: what GraphQL subscriptions cost on PostgreSQL, with
 * the server in a process of its own and the clients (graphql-ws over real sockets) in this one.
 *
 * - The database's transaction rate (pg_stat_database xact_commit per second, in a database made
 *   for the run) with the server idle, without listeners (the floor) and with 1,000 idle
 *   `planCredentialToggled` listeners: target at most 2x the floor.
 * - A toggle reaching every listener: from the mutation's send to each listener's receipt, p50
 *   and p99 over every listener and toggle, next to the mutation's own answer time (the floor).
 * - Memory per listener: the server's resident memory (after a GC) with 10,000 listeners, less
 *   that without them, divided by 10,000.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client as WsClient } from 'graphql-ws';
import { Client } from 'pg';
import WebSocket from 'ws';
import { loadConfig } from '../src/config';
import { startService } from '../src/service';
import { GitLabDouble } from '../test/support/gitlab-double';
import { graphql, median } from './client';
import { setUp } from './plan-setup';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';
const PER_SOCKET = 100;

interface Plan {
  listeners: number;
  idleMs: number;
  toggles: number;
  memoryListeners: number;
}
// 200 toggles: with 40, the p99 over every listener and toggle was the slowest toggle's alone.
const FULL: Plan = { listeners: 1000, idleMs: 20_000, toggles: 200, memoryListeners: 10_000 };
const QUICK: Plan = { listeners: 200, idleMs: 6_000, toggles: 20, memoryListeners: 1_000 };
/**
 * Toggles right after the listeners subscribed, all at once, shown apart: they pay for what
 * subscribing left (a collection of it), which listeners that come and go over time do not bring
 * together onto one toggle.
 */
const FIRST_TOGGLES = 5;

type ToServer = { kind: 'idle' } | { kind: 'rss' } | { kind: 'profile'; on: boolean };
type FromServer = { kind: 'started'; url: string } | { kind: 'idle' } | { kind: 'rss'; rss: number } | { kind: 'profile' };

/** The server's side: a Backplane service on the run's database, answering the bench over IPC. */
async function serve(databaseUrl: string, token: string): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'backplane-bench-'));
  const config = loadConfig({
    BACKPLANE_EVENT_STORE: 'postgres',
    BACKPLANE_DATA_DIR: dataDir,
    BACKPLANE_DATABASE_URL: databaseUrl,
    BACKPLANE_MASTER_KEY: randomBytes(32).toString('base64'),
    BACKPLANE_BOOTSTRAP_TOKEN: token,
    BACKPLANE_WS_MAX_CONNECTIONS: '1000',
    // The bench opens up to 100 sockets at once from one address, and the machine may be busy.
    BACKPLANE_WS_MAX_WAITING_PER_ADDRESS: '1000',
    BACKPLANE_WS_INIT_TIMEOUT_MS: '60000',
    BACKPLANE_WS_MAX_CONNECTIONS_PER_TOKEN: '1000',
    BACKPLANE_WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: String(PER_SOCKET),
    BACKPLANE_WS_MAX_SUBSCRIPTIONS_PER_TOKEN: '100000',
    PORT: '0',
  });
  const service = await startService(config, { host: '127.0.0.1' });
  const send = (message: FromServer) => process.send!(message);
  process.on('message', (message: ToServer) => {
    if (message.kind === 'idle') void service.app.jobs.idle().then(() => send({ kind: 'idle' }));
    if (message.kind === 'profile') void profileToggles(message.on).then(() => send({ kind: 'profile' }));
    if (message.kind === 'rss') {
      (globalThis as { gc?: () => void }).gc?.();
      send({ kind: 'rss', rss: process.memoryUsage().rss });
    }
  });
  process.on('disconnect', () => {
    void service
      .close()
      .then(() => rm(dataDir, { recursive: true, force: true }))
      .finally(() => process.exit(0));
  });
  send({ kind: 'started', url: service.server.url });
}

let profiler: Session | null = null;

/** BACKPLANE_BENCH_CPU_PROF=<folder>: the toggles' stretch alone is profiled too, into toggles.cpuprofile there. */
async function profileToggles(on: boolean): Promise<void> {
  const folder = process.env.BACKPLANE_BENCH_CPU_PROF;
  if (!folder) return;
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) => profiler!.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  if (on) {
    profiler = new Session();
    profiler.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 100 });
    await post('Profiler.start');
    return;
  }
  const { profile } = await post('Profiler.stop');
  await writeFile(join(folder, 'toggles.cpuprofile'), JSON.stringify(profile));
  profiler?.disconnect();
  profiler = null;
}

/** The server process, and a way to ask it things. */
function startServer(databaseUrl: string, token: string): Promise<{ url: string; ask(message: ToServer): Promise<FromServer>; child: ChildProcess }> {
  // BACKPLANE_BENCH_CPU_PROF=<folder>: the server's CPU profile is written there when it stops.
  const profile = process.env.BACKPLANE_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BACKPLANE_BENCH_CPU_PROF}`] : [];
  const child = fork(__filename, ['--serve', databaseUrl, token], { execArgv: ['--expose-gc', ...profile], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = (message: ToServer) =>
    new Promise<FromServer>((resolve) => {
      child.once('message', (answer: FromServer) => resolve(answer));
      child.send(message);
    });
  return new Promise((resolve, reject) => {
    child.once('message', (message: FromServer) => {
      if (message.kind === 'started') resolve({ url: message.url, ask, child });
    });
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
  });
}

async function transactions(admin: Client, database: string): Promise<number> {
  const [row] = (await admin.query<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = $1', [database])).rows;
  return Number(row.n);
}

/** Committed transactions per second on the run's database while nothing is asked of the server. */
async function idleRate(admin: Client, database: string, ms: number): Promise<number> {
  // An idle backend reports its counts up to 10 s late: the window opens after what came before is counted.
  await new Promise((resolve) => setTimeout(resolve, 11_000));
  const before = await transactions(admin, database);
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ((await transactions(admin, database)) - before) / (ms / 1000);
}

interface Listeners {
  count: number;
  /** Resolves with each listener's receipt time (ms, performance.now()) of the next toggle to `enabled`. */
  next(enabled: boolean): Promise<number[]>;
  close(): Promise<void>;
}

/** `n` planCredentialToggled listeners of one plan, PER_SOCKET to a socket; resolves once each has received a first toggle. */
async function listen(url: string, token: string, n: number, planId: string, toggle: { next(): boolean; send(): Promise<void> }): Promise<Listeners> {
  const sockets: WsClient[] = [];
  let waiting: { enabled: boolean; times: number[]; done: () => void } | null = null;
  const received = (enabled: boolean) => {
    const now = performance.now();
    if (!waiting || waiting.enabled !== enabled) return;
    waiting.times.push(now);
    if (waiting.times.length === n) waiting.done();
  };
  let failures = 0;
  let firstFailure = '';
  const failed = (error: unknown) => {
    failures += 1;
    const about = error as { message?: string; code?: number; reason?: string };
    firstFailure ||= about.message ?? `closed ${about.code} ${about.reason}`;
  };
  for (let index = 0; index < n; index++) {
    if (index % PER_SOCKET === 0) {
      sockets.push(
        createClient({
          url: url.replace(/^http/, 'ws'),
          webSocketImpl: WebSocket,
          connectionParams: { authorization: `Bearer ${token}` },
          retryAttempts: 0,
          lazy: true,
        }),
      );
    }
    sockets.at(-1)!.subscribe<{ planCredentialToggled: { enabled: boolean } }>(
      { query: 'subscription($p: ID) { planCredentialToggled(planId: $p) { cursor enabled } }', variables: { p: planId } },
      {
        next: (value) => {
          if (value.data) received(value.data.planCredentialToggled.enabled);
          else failed(value.errors);
        },
        error: failed,
        complete: () => undefined,
      },
    );
  }
  const next = (enabled: boolean) =>
    new Promise<number[]>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${waiting?.times.length} of ${n} listeners received the toggle (${failures} errors, the first: ${firstFailure})`)),
        30_000,
      );
      waiting = {
        enabled,
        times: [],
        done: () => {
          clearTimeout(timer);
          const times = waiting!.times;
          waiting = null;
          resolve(times);
        },
      };
    });
  // Subscribed once each has had an event: keep toggling until they all have one.
  for (let attempt = 0; ; attempt++) {
    const arrived = next(toggle.next());
    await toggle.send();
    try {
      await arrived;
      break;
    } catch (error) {
      if (attempt >= 5) throw error;
    }
  }
  return {
    count: n,
    next,
    async close() {
      await Promise.all(sockets.map((socket) => socket.dispose()));
    },
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(plan: Plan): Promise<void> {
  const adminUrl = process.env.BACKPLANE_BENCH_DATABASE_URL ?? DEFAULT_URL;
  const database = `bp_bench_subs_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  // A database of its own: its transaction count is the server's alone, not that of whatever else uses the server.
  await admin.query(`CREATE DATABASE ${database}`);
  const databaseUrl = new URL(adminUrl);
  databaseUrl.pathname = `/${database}`;
  const token = `bpk_bench_${randomBytes(24).toString('base64url')}`;
  const gitlab = await GitLabDouble.start();
  const server = await startServer(databaseUrl.toString(), token);
  // Each figure as soon as it is measured.
  const print = (line: string) => process.stdout.write(`${line}\n`);
  try {
    const { planIds, credentialId } = await setUp(server.url, token, gitlab, 1);
    await server.ask({ kind: 'idle' });
    let enabled = false;
    const toggle = async () => {
      enabled = !enabled;
      await graphql(server.url, token, 'mutation($p: ID!, $c: ID!, $e: Boolean!) { togglePlanCredential(planId: $p, credentialId: $c, enabled: $e) { id } }', {
        p: planIds[0],
        c: credentialId,
        e: enabled,
      });
    };

    const timedToggle = async () => {
      const sent = performance.now();
      await toggle();
      return performance.now() - sent;
    };
    const alone: number[] = [];
    for (let round = 0; round < plan.toggles; round++) alone.push(await timedToggle());

    const floorRate = plan.idleMs > 0 ? await idleRate(admin, database, plan.idleMs) : 0;
    const toggling = { next: () => !enabled, send: toggle };
    const listeners = await listen(server.url, token, plan.listeners, planIds[0], toggling);
    if (plan.idleMs > 0) {
      const withRate = await idleRate(admin, database, plan.idleMs);
      print(`PostgreSQL, idle server: database transactions per second, over ${plan.idleMs / 1000} s`);
      print(`  without listeners (floor)        ${floorRate.toFixed(1).padStart(8)}/s`);
      print(
        `  with ${String(plan.listeners).padEnd(5)} idle listeners       ${withRate.toFixed(1).padStart(8)}/s   this/floor ${(withRate / floorRate).toFixed(2)}`,
      );
    }

    const reach: number[] = [];
    const answers: number[] = [];
    /** Per toggle, when its last listener had it. */
    const lasts: number[] = [];
    /** A toggle's time to each listener; the mutation's answer time goes to `answered`. */
    const reaching = async (answered: number[]) => {
      const arrived = listeners.next(!enabled);
      const sent = performance.now();
      answered.push(await timedToggle());
      const times = (await arrived).map((at) => at - sent);
      await new Promise((resolve) => setTimeout(resolve, 50));
      return times;
    };
    const first: number[] = [];
    for (let round = 0; round < FIRST_TOGGLES; round++) first.push(Math.max(...(await reaching([]))));
    await server.ask({ kind: 'profile', on: true });
    for (let round = 0; round < plan.toggles; round++) {
      const times = await reaching(answers);
      reach.push(...times);
      lasts.push(Math.max(...times));
    }
    await server.ask({ kind: 'profile', on: false });
    const answer = median(alone);
    print(
      `PostgreSQL, the first ${FIRST_TOGGLES} toggles after ${plan.listeners} listeners subscribed at once (not counted below), to their last listener: ${first
        .map((ms) => `${ms.toFixed(1)} ms`)
        .join(', ')}`,
    );
    print(
      `PostgreSQL, a toggle reaching ${plan.listeners} listeners, from the mutation's send (${plan.toggles} toggles; load average then ${loadavg()[0].toFixed(2)})`,
    );
    print(`  mutation's answer, no listeners  p50 ${answer.toFixed(1).padStart(7)} ms (floor)`);
    print(`  mutation's answer, listening     p50 ${median(answers).toFixed(1).padStart(7)} ms`);
    print(
      `  every listener has it            p50 ${percentile(reach, 50).toFixed(1).padStart(7)} ms   p99 ${percentile(reach, 99).toFixed(1).padStart(7)} ms   p50/floor ${(percentile(reach, 50) / answer).toFixed(2)}`,
    );
    print(
      `  its last listener, per toggle     p50 ${median(lasts).toFixed(1).padStart(7)} ms   slowest ${Math.max(...lasts)
        .toFixed(1)
        .padStart(7)} ms`,
    );
    await listeners.close();
    if (plan.memoryListeners === 0) return;

    await new Promise((resolve) => setTimeout(resolve, 2000));
    const bare = await server.ask({ kind: 'rss' });
    // In waves of 1,000: ten thousand subscribing at once would queue ten thousand token look-ups on the pool.
    const waves: Listeners[] = [];
    for (let opened = 0; opened < plan.memoryListeners; opened += 1000) {
      waves.push(await listen(server.url, token, Math.min(1000, plan.memoryListeners - opened), planIds[0], toggling));
    }
    const loaded = await server.ask({ kind: 'rss' });
    const rss = (answer: FromServer) => (answer.kind === 'rss' ? answer.rss : Number.NaN);
    const perListener = (rss(loaded) - rss(bare)) / plan.memoryListeners;
    print(`PostgreSQL, memory: ${plan.memoryListeners} listeners on ${Math.ceil(plan.memoryListeners / PER_SOCKET)} sockets`);
    print(`  server RSS without listeners     ${(rss(bare) / 2 ** 20).toFixed(0).padStart(8)} MB`);
    print(`  server RSS with them             ${(rss(loaded) / 2 ** 20).toFixed(0).padStart(8)} MB   per listener ${(perListener / 1024).toFixed(1)} KB`);
    for (const wave of waves) await wave.close();
  } finally {
    server.child.disconnect();
    await new Promise((resolve) => server.child.once('exit', resolve));
    await gitlab.close();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--serve') return serve(args[1], args[2]);
  const usage = 'usage: npm run bench:subscriptions [-- [--quick] [--listeners=N] [--toggles=N] [--memory=N] [--idle=SECONDS] (0: not measured)]';
  const plan = { ...(args.includes('--quick') ? QUICK : FULL) };
  for (const arg of args) {
    if (arg === '--quick') continue;
    const [, name, value] = /^--(listeners|toggles|memory|idle)=(\d+)$/.exec(arg) ?? [];
    if (name === undefined) throw new Error(`unknown argument ${arg}; ${usage}`);
    if (name === 'memory') plan.memoryListeners = Number(value);
    else if (name === 'idle') plan.idleMs = Number(value) * 1000;
    else plan[name as 'listeners' | 'toggles'] = Number(value);
  }
  if (plan.listeners < 1 || plan.toggles < 1) throw new Error(`listeners and toggles are at least 1; ${usage}`);
  process.stdout.write(
    `Backplane subscriptions benchmark (${args.join(' ') || 'full'}): Node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}\n`,
  );
  await run(plan);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:subscriptions failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
