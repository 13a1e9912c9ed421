/**
 * The memory `npm start` holds on the embedded store (PGlite), as the operating system counts it
 * (VmRSS), the service started as npm start starts it, its Node options included
 * (BENCH_EMBEDDED_NODE_OPTIONS, when set, replaces them: empty, none): at idle on a new store,
 * then after 100,000 events; against the targets, and against a floor measured in the same run: a
 * bare Node process that opens the same PGlite folder and nothing else.
 *
 * The events are appended through the store while the service is stopped (a folder serves one
 * process at a time); the service then starts over them, its read models catch up (it answers
 * meanwhile, /readyz says 503), and its memory is read once they are current and it is idle.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackplane } from '../src/backplane';
import { loadConfig } from '../src/config';
import { SERVICE_MAIN, serviceNodeOptions } from '../test/support/start-command';

const EVENTS = 100_000;
const BATCH = 500;
const STREAMS = 400;
const IDLE_MS = 10_000;
const TARGET_IDLE_MB = 300;
const TARGET_LOADED_MB = 400;
/** The built service, run from dist/bench: dist/src/main.js, under the project's root. */
const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, SERVICE_MAIN);

interface Memory {
  rssMb: number;
  peakMb: number;
}

async function memoryOf(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Started {
  child: ChildProcess;
  url: string;
  /** From spawn to the URL printed (ms). */
  upMs: number;
}

/** npm start's Node options, or those BENCH_EMBEDDED_NODE_OPTIONS gives instead (words apart by spaces; empty: none). */
function nodeOptions(): string[] {
  const given = process.env.BENCH_EMBEDDED_NODE_OPTIONS;
  return given === undefined ? serviceNodeOptions(ROOT) : given.split(/\s+/).filter((word) => word !== '');
}

async function startService(env: NodeJS.ProcessEnv, options: string[]): Promise<Started> {
  const startedAt = performance.now();
  // With the Node options npm start gives it: the memory measured is that of the service as it is run.
  const child = spawn(process.execPath, [...options, MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', () => undefined);
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Backplane GraphQL API: (\S+)/.exec(output);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`the service exited with ${code} before serving`)));
  });
  return { child, url, upMs: performance.now() - startedAt };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Waits for /readyz to answer 200, reading the process's memory meanwhile; answers the wait and the highest RSS seen. */
async function untilReady(started: Started): Promise<{ ms: number; highestMb: number }> {
  const since = performance.now();
  let highestMb = 0;
  for (;;) {
    highestMb = Math.max(highestMb, (await memoryOf(started.child.pid!)).rssMb);
    const response = await fetch(new URL('/readyz', started.url)).catch(() => null);
    if (response?.status === 200) return { ms: performance.now() - since, highestMb };
    await sleep(500);
  }
}

/** The floor: PGlite alone on the same folder, opened as the service opens it, idle. */
async function floorMb(dataDir: string): Promise<number> {
  const script = `require(${JSON.stringify(require.resolve('../src/sql/pglite-database'))}).PgliteDatabase.open(process.argv[1])
    .then((db) => db.query('SELECT count(*) FROM events').then(() => setTimeout(() => db.close(), ${IDLE_MS + 5000})));`;
  const child = spawn(process.execPath, ['-e', script, dataDir], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await sleep(IDLE_MS);
  const { rssMb } = await memoryOf(child.pid!);
  await exited;
  return rssMb;
}

function line(label: string, mb: number, floor: number, target: number): string {
  return `  ${label}: ${mb} MB (target under ${target} MB: ${mb < target ? 'met' : 'MISSED'}; ${(mb / floor).toFixed(2)}x the floor of ${floor} MB)`;
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'backplane-bench-embedded-'));
  // Without NODE_OPTIONS, which would add options of the caller's to those the service is run with.
  const { NODE_OPTIONS: _callers, ...inherited } = process.env;
  const env = {
    ...inherited,
    BACKPLANE_EVENT_STORE: 'pglite',
    BACKPLANE_DATA_DIR: dataDir,
    BACKPLANE_DATABASE_URL: '',
    BACKPLANE_MASTER_KEY: '',
    BACKPLANE_BOOTSTRAP_TOKEN: '',
    PORT: '0',
  };
  try {
    const options = nodeOptions();
    process.stdout.write(
      `Backplane embedded memory benchmark: Node ${process.version}, ${availableParallelism()} CPUs; the service run as node ${[...options, SERVICE_MAIN].join(' ')}\n`,
    );
    const first = await startService(env, options);
    await untilReady(first);
    await sleep(IDLE_MS);
    const idle = await memoryOf(first.child.pid!);
    await stop(first.child);
    const idleFloor = await floorMb(dataDir);

    const appendedAt = performance.now();
    const backplane = await openBackplane(loadConfig(env));
    try {
      const metadata = { tenantId: 'default', actor: { kind: 'system', id: 'bench', name: 'bench', role: 'ADMIN' } };
      for (let written = 0; written < EVENTS; written += BATCH) {
        const events = Array.from({ length: BATCH }, (_, n) => ({ type: 'BenchRecorded', data: { n: written + n, note: 'x'.repeat(200) }, metadata }));
        await backplane.store.appendToStream(`bench-${(written / BATCH) % STREAMS}`, events);
      }
    } finally {
      await backplane.close();
    }
    const appendMs = performance.now() - appendedAt;
    const loadedFloor = await floorMb(dataDir);

    const second = await startService(env, options);
    const catchUp = await untilReady(second);
    await sleep(IDLE_MS);
    const loaded = await memoryOf(second.child.pid!);
    await stop(second.child);

    process.stdout.write(
      `${[
        `PGlite store in ${dataDir}; floor: a bare Node process with PGlite opened on the same folder, idle`,
        line('idle on a new store', idle.rssMb, idleFloor, TARGET_IDLE_MB),
        `  (${EVENTS} events appended through the store in ${(appendMs / 1000).toFixed(1)} s with the service stopped)`,
        `  start over them: serving after ${(second.upMs / 1000).toFixed(1)} s, read models current after ${(catchUp.ms / 1000).toFixed(1)} s more (highest RSS meanwhile ${catchUp.highestMb} MB)`,
        line(`idle after ${EVENTS} events`, loaded.rssMb, loadedFloor, TARGET_LOADED_MB),
        `  peak RSS of the service's life (VmHWM): ${loaded.peakMb} MB`,
      ].join('\n')}\n`,
    );
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`bench:embedded failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
