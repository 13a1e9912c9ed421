import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { gitlabGroup } from '../support/gitlab-accounts';
import { runnersTokenOf } from '../support/gitlab-double/resources';
import { buildScenario, ops, protectListedRepositories, type Scenario } from '../support/scenario';

const run = promisify(execFile);
const DEADLINE = 30_000;

const SNAPSHOT_FIELDS = `id fullPath takenAt manifestHash bytes newBytes storedBytes objects wiki branches tags issues mergeRequests labels milestones releases
  archiveUrl repository { id fullPath } task { id } storage { id kind isDefault } credentialsUsed { credential { id } login requests }
  verification { ok checkedObjects firstBrokenObject }`;
const runPlan = 'mutation($planId: ID!) { runPlan(planId: $planId) { id status } }';
const taskQuery = `query($id: ID!) { task(id: $id) { id status reason repositoriesDone repositoriesFailed bytesWritten
  snapshots(first: 10) { totalCount edges { node { ${SNAPSHOT_FIELDS} } } } } }`;
const snapshotsQuery = `query($planId: ID, $first: Int, $after: String) { snapshots(planId: $planId, first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id fullPath takenAt } } } }`;
const refsQuery = 'query($id: ID!) { snapshot(id: $id) { id refs { name sha } } }';
const verify = `mutation($id: ID!) { verifySnapshot(id: $id) { ok checkedObjects firstBrokenObject snapshot { id } } }`;

/** Content no storage, log or answer may show in plain text. */
const MARKER = 'backplane-plain-content-marker-7f3a';

let labels = 0;

async function git(args: string[], cwd?: string): Promise<string> {
  const { stdout } = await run('git', args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), GIT_CONFIG_NOSYSTEM: '1' },
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Every ref of a repository on disk, as `name sha` lines, sorted. */
async function refsOf(dir: string): Promise<string[]> {
  const out = await git(['for-each-ref', '--format=%(refname) %(objectname)'], dir);
  return out.split('\n').filter(Boolean).sort();
}

/** Every file under a folder, with its bytes. */
async function filesUnder(dir: string): Promise<{ path: string; bytes: Buffer }[]> {
  const found: { path: string; bytes: Buffer }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    found.push({ path, bytes: await readFile(path) });
  }
  return found;
}

for (const store of apiStores) {
  describe(`backups: snapshots in storage, their archive and their verification, on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    let scratch: string;

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage, { service: { work: { runConcurrency: 2, runFlushMs: 50 } } });
      scratch = await mkdtemp(join(tmpdir(), 'backplane-backups-'));
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    /** An organization of its own with three protected projects: two with history (one with a wiki), one empty. */
    async function organization(): Promise<{ s: Scenario; label: string; projects: { id: number; fullPath: string }[] }> {
      const label = `bk${++labels}${store}`;
      gitlabGroup(api.gitlab, `${label}/platform`);
      const projects = ['api', 'web', 'empty'].map((path) => api.gitlab.addProject(`${label}/platform`, path, { issues: 3, mergeRequests: 2 }));
      await api.gitlab.commit(projects[0].id, { files: { 'README.md': `# api\n${MARKER}\n`, 'src/main.ts': 'export const answer = 42;\n' } });
      await api.gitlab.commit(projects[0].id, { branch: 'feature', files: { 'feature.txt': 'a feature\n' } });
      await api.gitlab.tag(projects[0].id, 'v1.0.0');
      const head = await api.gitlab.commit(projects[0].id, { files: { 'CHANGELOG.md': '1.0.0\n' } });
      await api.gitlab.setRef(projects[0].id, 'refs/merge-requests/1/head', head);
      await api.gitlab.commit(projects[0].id, { wiki: true, files: { 'home.md': 'The wiki\n' } });
      await api.gitlab.commit(projects[1].id, { files: { 'index.html': '<h1>web</h1>\n' } });
      const s = await buildScenario(api, api.rootToken, label);
      await protectListedRepositories(api, s.organizationId, projects.length, DEADLINE);
      return { s, label, projects };
    }

    async function runToEnd(planId: string) {
      const { runPlan: started } = await api.ok(api.rootToken, runPlan, { planId });
      return eventually(async () => {
        const { task } = await api.ok(api.rootToken, taskQuery, { id: started.id });
        expect(['COMPLETED', 'FAILED']).toContain(task.status);
        return task;
      }, DEADLINE);
    }

    const snapshotOf = (task: any, fullPath: string) => task.snapshots.edges.map((edge: any) => edge.node).find((node: any) => node.fullPath === fullPath);

    async function download(snapshot: { id: string; archiveUrl: string }, token = api.rootToken): Promise<Response> {
      return fetch(new URL(snapshot.archiveUrl, api.url), { headers: { authorization: `Bearer ${token}` } });
    }

    async function extract(response: Response): Promise<string> {
      const folder = await mkdtemp(join(scratch, 'archive-'));
      await writeFile(join(folder, 'archive.tar.gz'), Buffer.from(await response.arrayBuffer()));
      await run('tar', ['-xzf', 'archive.tar.gz'], { cwd: folder });
      return folder;
    }

    it('stores every protected repository: git refs and objects, wiki and metadata, encrypted, and the archive clones to the same refs', async () => {
      const { s, label, projects } = await organization();
      const task = await runToEnd(s.planId);
      expect(task).toMatchObject({ status: 'COMPLETED', reason: null, repositoriesDone: 3, repositoriesFailed: 0 });
      expect(task.snapshots.totalCount).toBe(3);
      expect(task.bytesWritten).toBeGreaterThan(0);

      const api0 = snapshotOf(task, projects[0].fullPath);
      expect(api0).toMatchObject({
        wiki: true,
        branches: 2,
        tags: 1,
        issues: 3,
        mergeRequests: 2,
        storage: { kind: 'LOCAL', isDefault: true },
        task: { id: task.id },
        verification: null,
      });
      expect(api0.manifestHash).toMatch(/^[0-9a-f]{64}$/);
      expect(api0.newBytes).toBeLessThanOrEqual(api0.bytes);
      expect(api0.credentialsUsed.map((use: any) => use.login).sort()).toEqual(expect.arrayContaining([`${label}-admin`]));
      const empty = snapshotOf(task, projects[2].fullPath);
      expect(empty).toMatchObject({ wiki: false, branches: 0, tags: 0 });

      // The refs the API shows are the source's, read back from the manifest in storage.
      const source = await refsOf(api.gitlab.repositoryOf(projects[0].id));
      const { snapshot } = await api.ok(api.rootToken, refsQuery, { id: api0.id });
      expect(snapshot.refs.map((ref: any) => `${ref.name} ${ref.sha}`).sort()).toEqual(source);
      expect(source).toContain(`refs/merge-requests/1/head ${source.find((line) => line.startsWith('refs/heads/main '))!.split(' ')[1]}`);

      // The archive: the bundle clones to the same refs and objects, the metadata is there.
      const response = await download(api0);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/gzip');
      const folder = await extract(response);
      const clone = join(folder, 'clone.git');
      await git(['clone', '--quiet', '--mirror', join(folder, 'api', 'repository.bundle'), clone]);
      expect(await refsOf(clone)).toEqual(source);
      await git(['fsck', '--full', '--strict'], clone);
      const wikiClone = join(folder, 'wiki.git');
      await git(['clone', '--quiet', '--mirror', join(folder, 'api', 'wiki.bundle'), wikiClone]);
      expect(await git(['show', 'main:home.md'], wikiClone)).toBe('The wiki\n');
      const issues = JSON.parse(await readFile(join(folder, 'api', 'metadata', 'issues.json'), 'utf8'));
      expect(issues).toHaveLength(3);
      expect(issues[0].notes.length).toBeGreaterThan(0);
      const manifest = JSON.parse(await readFile(join(folder, 'api', 'manifest.json'), 'utf8'));
      expect(manifest.repository.fullPath).toBe(projects[0].fullPath);

      // The project's settings are kept, its runner registration token (which the double serves, as GitLab does to maintainers) is not.
      const runnersToken = runnersTokenOf(projects[0]);
      const served = await fetch(`${api.gitlab.url}/api/v4/projects/${projects[0].id}`, { headers: { 'private-token': s.secrets[0] } });
      expect(((await served.json()) as { runners_token?: string }).runners_token).toBe(runnersToken);
      const settings = await readFile(join(folder, 'api', 'metadata', 'project.json'), 'utf8');
      expect(JSON.parse(settings)).toMatchObject({ id: projects[0].id, path_with_namespace: projects[0].fullPath, shared_runners_enabled: true });
      expect(JSON.parse(settings)).not.toHaveProperty('runners_token');
      for (const { bytes } of await filesUnder(folder)) expect(bytes.includes(runnersToken)).toBe(false);

      // Nothing of the repository's content or of a token is readable in storage.
      const stored = await filesUnder(join(storage.dataDir, 'backups', 'storage'));
      expect(stored.length).toBeGreaterThan(0);
      for (const { bytes } of stored) {
        expect(bytes.includes(MARKER)).toBe(false);
        expect(bytes.includes('export const answer')).toBe(false);
        for (const secret of s.secrets) expect(bytes.includes(secret)).toBe(false);
        expect(bytes.includes(runnersToken)).toBe(false);
      }
      // The mirror keeps no token in its configuration.
      const mirrors = await filesUnder(join(storage.dataDir, 'backups', 'mirrors'));
      for (const { path, bytes } of mirrors.filter((file) => file.path.endsWith('config'))) {
        for (const secret of s.secrets) expect({ path, leaked: bytes.includes(secret) }).toEqual({ path, leaked: false });
      }
    });

    it('uses only the main login and the credentials effective on the plan, for git as for the API', async () => {
      const { s, label } = await organization();
      api.gitlab.resetRequests();
      const task = await runToEnd(s.planId);
      expect(task.status).toBe('COMPLETED');
      const seen = new Set(api.gitlab.requests.filter((request) => request.username !== null).map((request) => request.username));
      // bot2 is an additional credential of the organization, never enabled on the plan.
      expect(seen.has(`${label}-bot2`)).toBe(false);
      const gitRequests = api.gitlab.requests.filter((request) => /\.git\//.test(request.path));
      expect(gitRequests.length).toBeGreaterThan(0);
      expect(new Set(gitRequests.map((request) => request.username))).not.toContain(`${label}-bot2`);
      void s;
    });

    it('stores only what changed on a second run: an unchanged repository costs its manifest, a changed one its new objects', async () => {
      const { s, projects } = await organization();
      const first = await runToEnd(s.planId);
      // 64 KiB of fresh content, so that the new objects are what the second run stores.
      const fresh = Array.from({ length: 2048 }, (_, i) => `${i} ${Math.random().toString(36)}`).join('\n');
      await api.gitlab.commit(projects[1].id, { files: { 'data.txt': fresh } });
      const second = await runToEnd(s.planId);
      expect(second.status).toBe('COMPLETED');
      const before = snapshotOf(first, projects[0].fullPath);
      const unchanged = snapshotOf(second, projects[0].fullPath);
      expect(unchanged.bytes).toBeGreaterThanOrEqual(before.bytes - 200);
      // The manifest is new (it says when it was taken); every other object was stored already.
      expect(unchanged.newBytes).toBeLessThan(4096);
      expect(unchanged.manifestHash).not.toBe(before.manifestHash);
      const changed = snapshotOf(second, projects[1].fullPath);
      expect(changed.newBytes).toBeGreaterThan(1000);
      expect(second.bytesWritten).toBeLessThan(first.bytesWritten + changed.storedBytes);

      const page1 = (await api.ok(api.rootToken, snapshotsQuery, { planId: s.planId, first: 4 })).snapshots;
      expect(page1.totalCount).toBe(6);
      expect(page1.edges).toHaveLength(4);
      const page2 = (await api.ok(api.rootToken, snapshotsQuery, { planId: s.planId, first: 4, after: page1.pageInfo.endCursor })).snapshots;
      expect(page2.edges).toHaveLength(2);
      expect(page2.pageInfo.hasNextPage).toBe(false);
      const ids = [...page1.edges, ...page2.edges].map((edge: any) => edge.node.id);
      expect(new Set(ids).size).toBe(6);
    });

    it('verifies a snapshot, and names the object a flipped byte broke', async () => {
      const { s, projects } = await organization();
      const task = await runToEnd(s.planId);
      const web = snapshotOf(task, projects[1].fullPath);
      const sound = (await api.ok(api.rootToken, verify, { id: web.id })).verifySnapshot;
      expect(sound).toEqual({ ok: true, checkedObjects: web.objects, firstBrokenObject: null, snapshot: { id: web.id } });

      // Every object of this snapshot, by name in storage: found as the files a fresh storage folder gained.
      const folder = await extract(await download(web));
      const manifest = JSON.parse(await readFile(join(folder, 'web', 'manifest.json'), 'utf8'));
      const shas = new Set<string>([...manifest.git.bundle.chunks.map((c: any) => c.sha256), ...Object.values(manifest.metadata).map((m: any) => m.sha256)]);
      const files = await filesUnder(join(storage.dataDir, 'backups', 'storage'));
      const before = (await api.ok(api.rootToken, verify, { id: web.id })).verifySnapshot;
      expect(before.ok).toBe(true);
      // Flip one byte in the middle of each stored file in turn until one of this snapshot's breaks.
      let broken: string | null = null;
      for (const file of files) {
        const original = file.bytes;
        const flipped = Buffer.from(original);
        flipped[Math.floor(flipped.length / 2)] ^= 0x01;
        await writeFile(file.path, flipped);
        const verification = (await api.ok(api.rootToken, verify, { id: web.id })).verifySnapshot;
        await writeFile(file.path, original);
        if (!verification.ok) {
          broken = verification.firstBrokenObject;
          // A broken manifest names nothing more to read; else every object is read.
          expect(verification.checkedObjects).toBe(broken === web.manifestHash ? 1 : web.objects);
          break;
        }
      }
      expect(broken).not.toBeNull();
      expect(shas.has(broken!) || broken === web.manifestHash).toBe(true);
      const after = (await api.ok(api.rootToken, verify, { id: web.id })).verifySnapshot;
      expect(after.ok).toBe(true);
    });

    it('records who verified and who downloaded a snapshot, and lets only those who run backups download', async () => {
      const { s, projects } = await organization();
      const task = await runToEnd(s.planId);
      const web = snapshotOf(task, projects[1].fullPath);
      await api.ok(api.rootToken, verify, { id: web.id });
      expect((await download(web)).status).toBe(200);
      const { auditLog } = await api.ok(api.rootToken, ops.auditLog, {
        filter: { types: ['SnapshotRecorded', 'SnapshotVerified', 'SnapshotDownloaded'] },
        first: 500,
      });
      const mine = auditLog.edges.map((edge: any) => edge.node).filter((event: any) => event.data.snapshotId === web.id);
      expect(mine.map((event: any) => event.type).sort()).toEqual(['SnapshotDownloaded', 'SnapshotRecorded', 'SnapshotVerified']);
      expect(mine.find((event: any) => event.type === 'SnapshotDownloaded').actor.id).not.toBeNull();

      const viewer = await api.ok<{ createApiToken: { token: string } }>(api.rootToken, ops.createApiToken, { name: `viewer-${labels}`, role: 'VIEWER' });
      expect((await download(web, viewer.createApiToken.token)).status).toBe(403);
      expect((await fetch(new URL(web.archiveUrl, api.url))).status).toBe(401);
      expect((await download(web, 'bpk_not_a_token')).status).toBe(401);
      expect((await download({ ...web, archiveUrl: '/snapshots/00000000-0000-4000-8000-00000000abcd/archive' })).status).toBe(404);
      expect((await download({ ...web, archiveUrl: '/snapshots/not-a-uuid/archive' })).status).toBe(404);

      // A download the client gives up on half-way ends that download alone.
      for (let attempt = 0; attempt < 5; attempt++) {
        const abort = new AbortController();
        const response = await fetch(new URL(web.archiveUrl, api.url), { headers: { authorization: `Bearer ${api.rootToken}` }, signal: abort.signal });
        const reader = response.body!.getReader();
        await reader.read();
        abort.abort();
        await reader.read().catch(() => undefined);
      }
      expect((await download(web)).status).toBe(200);
      expect((await api.ok(api.rootToken, 'query { me { role } }')).me.role).toBe('ADMIN');
      void stat;
    });
  });
}
