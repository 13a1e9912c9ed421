import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestApi } from '../support/api-server';
import { spawnTs, type Child } from '../support/child';
import { eventually } from '../support/eventually';
import { GitLabDouble } from '../support/gitlab-double';
import { gitlabGroup } from '../support/gitlab-accounts';
import { buildScenario, ops, protectListedRepositories } from '../support/scenario';

const MAIN = join(__dirname, '..', '..', 'src', 'main.ts');
const MASTER_KEY = randomBytes(32).toString('base64');
const ROOT_TOKEN = `bpk_crash_${randomBytes(24).toString('base64url')}`;
const PROJECTS = 6;

/** What `npm start` runs, as a process of its own that the test can kill -9. */
function start(dataDir: string): Child {
  return spawnTs(MAIN, [], {
    BACKPLANE_DATA_DIR: dataDir,
    PORT: '0',
    BACKPLANE_MASTER_KEY: MASTER_KEY,
    BACKPLANE_BOOTSTRAP_TOKEN: ROOT_TOKEN,
    BACKPLANE_EVENT_STORE: 'pglite',
    BACKPLANE_RUN_CONCURRENCY: '1',
    BACKPLANE_POLL_INTERVAL_MS: '20',
  });
}

async function urlOf(child: Child): Promise<string> {
  const line = await child.waitFor(/Backplane GraphQL API: http:\/\//, 90_000);
  return line.slice(line.indexOf('http://')).trim();
}

/** The slice of the test API that the scenario helpers use, over a server in another process. */
function client(url: string, gitlab: GitLabDouble): TestApi {
  const ok = async (token: string, query: string, variables?: Record<string, unknown>) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: any; errors?: unknown[] };
    if (body.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
    return body.data;
  };
  return { ok, gitlab, rootToken: ROOT_TOKEN, url } as unknown as TestApi;
}

const SNAPSHOTS = 'query($planId: ID) { snapshots(planId: $planId, first: 50) { totalCount edges { node { id fullPath bytes newBytes objects } } } }';
const VERIFY = 'mutation($id: ID!) { verifySnapshot(id: $id) { ok checkedObjects firstBrokenObject } }';

describe('a plan run killed with SIGKILL in the middle', () => {
  let dataDir: string;
  let gitlab: GitLabDouble;
  let running: Child | null = null;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'backplane-crash-'));
    gitlab = await GitLabDouble.start();
  });
  afterAll(async () => {
    running?.process.kill('SIGKILL');
    await gitlab?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('leaves no snapshot naming a missing object, and the next run reuses what was stored', async () => {
    gitlabGroup(gitlab, 'crash/platform');
    const projects = Array.from({ length: PROJECTS }, (_, index) => gitlab.addProject('crash/platform', `p${index}`, { issues: 1, mergeRequests: 1 }));
    for (const project of projects) {
      await gitlab.commit(project.id, { files: { 'data.bin': randomBytes(256 * 1024), 'README.md': `# ${project.fullPath}\n` } });
    }
    running = start(dataDir);
    let api = client(await urlOf(running), gitlab);
    const s = await buildScenario(api, ROOT_TOKEN, 'crash');
    await protectListedRepositories(api, s.organizationId, PROJECTS, 30_000);

    // The fourth repository's fetch is held: the run has stored some repositories, and is writing, when it is killed.
    const held = projects[3].fullPath;
    gitlab.fault({ match: (request) => request.method === 'POST' && request.path.startsWith(`/${held}.git/`), delayMs: 120_000 });
    await api.ok(ROOT_TOKEN, 'mutation($planId: ID!) { runPlan(planId: $planId) { id } }', { planId: s.planId });
    await eventually(async () => {
      const { snapshots } = await api.ok(ROOT_TOKEN, SNAPSHOTS, { planId: s.planId });
      expect(snapshots.totalCount).toBeGreaterThanOrEqual(2);
    }, 60_000);
    await eventually(() => expect(gitlab.requests.some((request) => request.path.startsWith(`/${held}.git/`))).toBe(true), 60_000);
    running.process.kill('SIGKILL');
    await running.exited;
    gitlab.clearFaults();

    running = start(dataDir);
    api = client(await urlOf(running), gitlab);
    // Every snapshot recorded before the kill is whole: each object it names is stored and sound.
    const { snapshots: before } = await api.ok(ROOT_TOKEN, SNAPSHOTS, { planId: s.planId });
    expect(before.totalCount).toBeGreaterThanOrEqual(2);
    expect(before.edges.map((edge: any) => edge.node.fullPath)).not.toContain(held);
    for (const edge of before.edges) {
      const { verifySnapshot } = await api.ok(ROOT_TOKEN, VERIFY, { id: edge.node.id });
      expect(verifySnapshot).toEqual({ ok: true, checkedObjects: edge.node.objects, firstBrokenObject: null });
    }
    // The killed task holds its plan until it is taken for dead; a second plan of the organization runs now.
    const { createPlan } = await api.ok(ROOT_TOKEN, ops.createPlan, { input: { organizationId: s.organizationId, name: 'crash second' } });
    const { runPlan } = await api.ok(ROOT_TOKEN, 'mutation($planId: ID!) { runPlan(planId: $planId) { id } }', { planId: createPlan.id });
    await eventually(async () => {
      const { task } = await api.ok(ROOT_TOKEN, 'query($id: ID!) { task(id: $id) { status repositoriesDone } }', { id: runPlan.id });
      expect(task).toEqual({ status: 'COMPLETED', repositoriesDone: PROJECTS });
    }, 90_000);
    const { snapshots: after } = await api.ok(ROOT_TOKEN, SNAPSHOTS, { planId: createPlan.id });
    expect(after.totalCount).toBe(PROJECTS);
    for (const edge of after.edges) {
      const { verifySnapshot } = await api.ok(ROOT_TOKEN, VERIFY, { id: edge.node.id });
      expect(verifySnapshot.ok).toBe(true);
    }
    // Repositories stored before the kill cost the second run nothing but their manifests.
    const stored = new Set(before.edges.map((edge: any) => edge.node.fullPath));
    for (const edge of after.edges.filter((e: any) => stored.has(e.node.fullPath))) expect(edge.node.newBytes).toBeLessThan(4096);
    // What a write cut short left is a temporary file, never an object under its name.
    const leftovers = (await readdir(join(dataDir, 'backups', 'storage'), { recursive: true })).filter((name) => String(name).includes('~tmp-'));
    expect(leftovers.length).toBeLessThanOrEqual(1);
    running.process.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    running = null;
  }, 400_000);
});
