import { randomUUID } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pruneStreamOf } from '../../src/app/backup/prune-state';
import { DEFAULT_STORAGE_ID } from '../../src/app/backup/storages';
import { execute } from '../../src/app/deps';
import { systemPrincipal } from '../../src/app/principal';
import { prune } from '../../src/domain/prune';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { gitlabGroup } from '../support/gitlab-accounts';
import { buildScenario, ops, protectListedRepositories, type Scenario } from '../support/scenario';

const DEADLINE = 30_000;

const runPlan = 'mutation($planId: ID!) { runPlan(planId: $planId) { id status } }';
const taskQuery = 'query($id: ID!) { task(id: $id) { id status reason } }';
const SETTINGS = 'backupSettings { storage { id name kind } schedule { times intervalMinutes } keepLast keepDaily keepWeekly keepMonthly nextRunAt }';
const updateSettings = `mutation($planId: ID!, $input: PlanBackupSettingsInput!, $v: Int) {
  updatePlanBackupSettings(planId: $planId, input: $input, expectedVersion: $v) { id version ${SETTINGS} } }`;
const planQuery = `query($id: ID!) { plan(id: $id) { id version ${SETTINGS} } }`;
const pruneSnapshots = 'mutation($planId: ID!) { pruneSnapshots(planId: $planId) }';
const snapshotsQuery = `query($planId: ID) { snapshots(planId: $planId, first: 100) {
  totalCount edges { node { id fullPath takenAt objects archiveUrl expiresAt repository { id } } } } }`;
const snapshotQuery = 'query($id: ID!) { snapshot(id: $id) { id expiresAt } }';
const verify = 'mutation($id: ID!) { verifySnapshot(id: $id) { ok checkedObjects firstBrokenObject } }';

let labels = 0;

/** Every file under a folder and their bytes: what the storage holds. */
async function usage(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    files += 1;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return { files, bytes };
}

/** Content of its own, so that each run stores objects no other run has. */
const fresh = () => Array.from({ length: 1500 }, (_, i) => `${i} ${randomUUID()}`).join('\n');

for (const store of apiStores) {
  describe(`retention, expiry and prune of snapshots, on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    let tenantId: string;

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage, { service: { work: { runConcurrency: 2, runFlushMs: 50 } } });
      tenantId = (await api.ok(api.rootToken, ops.me)).me.tenant.id;
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    const storageFolder = () => join(storage.dataDir, 'backups', 'storage');

    /** An organization of its own with two protected projects: one that changes between runs, one that does not. */
    async function organization(): Promise<{ s: Scenario; projects: { id: number; fullPath: string }[] }> {
      const label = `ret${++labels}${store}`;
      gitlabGroup(api.gitlab, `${label}/platform`);
      const projects = ['changing', 'steady'].map((path) => api.gitlab.addProject(`${label}/platform`, path, { issues: 1, mergeRequests: 1 }));
      await api.gitlab.commit(projects[0].id, { files: { 'data.txt': fresh() } });
      await api.gitlab.commit(projects[1].id, { files: { 'steady.txt': fresh() } });
      const s = await buildScenario(api, api.rootToken, label);
      await protectListedRepositories(api, s.organizationId, projects.length, DEADLINE);
      return { s, projects };
    }

    async function runToEnd(planId: string) {
      const { runPlan: started } = await api.ok(api.rootToken, runPlan, { planId });
      return eventually(async () => {
        const { task } = await api.ok(api.rootToken, taskQuery, { id: started.id });
        expect(task.status).toBe('COMPLETED');
        return task;
      }, DEADLINE);
    }

    const liveSnapshots = async (planId: string) => (await api.ok(api.rootToken, snapshotsQuery, { planId })).snapshots;
    const download = (snapshot: { archiveUrl: string }) =>
      fetch(new URL(snapshot.archiveUrl, api.url), { headers: { authorization: `Bearer ${api.rootToken}` } });

    it('keeps the last 2 snapshots of each repository, removes what only the others named, and keeps what a kept snapshot of any plan names', async () => {
      const { s, projects } = await organization();
      // Another plan on the same storage, run once before the changes: its snapshot names the first run's objects.
      const other = (await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: `other ${store} ${labels}` } })).createPlan;
      await runToEnd(other.id);
      for (let run = 0; run < 4; run++) {
        if (run > 0) await api.gitlab.commit(projects[0].id, { files: { 'data.txt': fresh() } });
        await runToEnd(s.planId);
      }
      const before = await liveSnapshots(s.planId);
      expect(before.totalCount).toBe(8);
      const used = await usage(storageFolder());

      const { plan: unset } = await api.ok(api.rootToken, planQuery, { id: s.planId });
      expect(unset.backupSettings).toEqual({
        storage: { id: DEFAULT_STORAGE_ID, name: expect.any(String), kind: 'LOCAL' },
        schedule: null,
        keepLast: null,
        keepDaily: null,
        keepWeekly: null,
        keepMonthly: null,
        nextRunAt: null,
      });
      const { updatePlanBackupSettings: updated } = await api.ok(api.rootToken, updateSettings, { planId: s.planId, input: { keepLast: 2 }, v: unset.version });
      expect(updated.backupSettings).toMatchObject({ keepLast: 2, keepDaily: null, schedule: null, storage: { id: DEFAULT_STORAGE_ID } });
      expect(updated.version).toBe(unset.version + 1);

      const { pruneSnapshots: expired } = await api.ok(api.rootToken, pruneSnapshots, { planId: s.planId });
      expect(expired).toBe(4);

      const after = await liveSnapshots(s.planId);
      expect(after.totalCount).toBe(4);
      const nodes = after.edges.map((edge: any) => edge.node);
      for (const project of projects) expect(nodes.filter((node: any) => node.fullPath === project.fullPath)).toHaveLength(2);
      // The two kept of each repository are the newest.
      const newest = before.edges.map((edge: any) => edge.node).filter((node: any) => node.fullPath === projects[0].fullPath);
      expect(nodes.filter((node: any) => node.fullPath === projects[0].fullPath).map((node: any) => node.id)).toEqual(newest.slice(0, 2).map((n: any) => n.id));
      for (const node of nodes) expect(node.expiresAt).toBeNull();

      const shrunk = await usage(storageFolder());
      expect(shrunk.files).toBeLessThan(used.files);
      expect(shrunk.bytes).toBeLessThan(used.bytes);

      // Kept snapshots still verify and download, the steady repository's (whose objects every expired one shared too) included.
      for (const node of nodes) {
        const { verifySnapshot } = await api.ok(api.rootToken, verify, { id: node.id });
        expect(verifySnapshot).toEqual({ ok: true, checkedObjects: node.objects, firstBrokenObject: null });
        const response = await download(node);
        expect(response.status).toBe(200);
        await response.arrayBuffer();
      }
      // The other plan's snapshot names objects only expired snapshots of this plan named besides: they stay.
      const kept = (await liveSnapshots(other.id)).edges.map((edge: any) => edge.node);
      expect(kept).toHaveLength(2);
      for (const node of kept) expect((await api.ok(api.rootToken, verify, { id: node.id })).verifySnapshot.ok).toBe(true);

      // An expired snapshot is marked, left out of lists, and neither verified nor downloaded.
      const gone = before.edges.map((edge: any) => edge.node).find((node: any) => !nodes.some((kept: any) => kept.id === node.id));
      const { snapshot } = await api.ok(api.rootToken, snapshotQuery, { id: gone.id });
      expect(snapshot.expiresAt).not.toBeNull();
      const refused = await api.request(api.rootToken, verify, { id: gone.id });
      expect(refused.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(refused.errors?.[0]?.message).toMatch(/expired/);
      expect((await download(gone)).status).toBe(404);

      // A second prune finds nothing more to expire or remove.
      expect((await api.ok(api.rootToken, pruneSnapshots, { planId: s.planId })).pruneSnapshots).toBe(0);
      expect(await usage(storageFolder())).toEqual(shrunk);

      // A run applies the retention itself at its end: still 2 per repository.
      await api.gitlab.commit(projects[0].id, { files: { 'data.txt': fresh() } });
      await runToEnd(s.planId);
      await api.service.app.jobs.idle();
      const later = (await liveSnapshots(s.planId)).edges.map((edge: any) => edge.node);
      expect(later).toHaveLength(4);
      expect(later.filter((node: any) => node.fullPath === projects[1].fullPath)).toHaveLength(2);
    }, 240_000);

    it('refuses a prune while a run of a plan on the storage is writing, and a run while a prune is under way', async () => {
      const { s } = await organization();
      await runToEnd(s.planId);
      // GitLab holds the run's first project answer: the run is RUNNING meanwhile.
      api.gitlab.fault({ match: (request) => request.path.startsWith('/api/v4/projects/'), delayMs: 3000, times: 1 });
      const { runPlan: started } = await api.ok(api.rootToken, runPlan, { planId: s.planId });
      const refused = await api.request(api.rootToken, pruneSnapshots, { planId: s.planId });
      expect(refused.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(refused.errors?.[0]?.message).toBe('a plan run is writing to this storage; prune when it has finished');
      await eventually(async () => expect((await api.ok(api.rootToken, taskQuery, { id: started.id })).task.status).toBe('COMPLETED'), DEADLINE);
      await api.service.app.jobs.idle();

      // A prune under way in another process: started in the log, its process beating.
      const request = { principal: systemPrincipal(tenantId), correlationId: randomUUID() };
      const stream = pruneStreamOf(DEFAULT_STORAGE_ID, tenantId);
      const pruneId = randomUUID();
      await execute(api.service.app, request, prune, stream, {
        type: 'StartPrune',
        data: {
          pruneId,
          storageId: DEFAULT_STORAGE_ID,
          now: new Date().toISOString(),
          lastSignOfLifeAt: null,
          staleAfterMs: 60_000,
          known: { runsWriting: 0 },
        },
      });
      await api.service.app.heartbeats.beat(tenantId, pruneId);
      const blocked = await api.request(api.rootToken, runPlan, { planId: s.planId });
      expect(blocked.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(blocked.errors?.[0]?.message).toMatch(/a prune of the plan's storage is running/);
      const second = await api.request(api.rootToken, pruneSnapshots, { planId: s.planId });
      expect(second.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(second.errors?.[0]?.message).toMatch(/already running/);
      await execute(api.service.app, request, prune, stream, {
        type: 'FinishPrune',
        data: { pruneId, now: new Date().toISOString(), objectsRemoved: 0, bytesFreed: 0, failure: null },
      });
      await api.service.app.heartbeats.stop(pruneId);
      await runToEnd(s.planId);

      // A prune whose process went away long ago holds nothing back.
      const lost = randomUUID();
      await execute(api.service.app, request, prune, stream, {
        type: 'StartPrune',
        data: {
          pruneId: lost,
          storageId: DEFAULT_STORAGE_ID,
          now: new Date(Date.now() - 31 * 60_000).toISOString(),
          lastSignOfLifeAt: null,
          staleAfterMs: 60_000,
          known: { runsWriting: 0 },
        },
      });
      await runToEnd(s.planId);
      // And the next prune records it as ended before it starts.
      expect((await api.ok(api.rootToken, pruneSnapshots, { planId: s.planId })).pruneSnapshots).toBe(0);
      const { auditLog } = await api.ok(api.rootToken, ops.auditLog, { filter: { types: ['PruneStarted', 'PruneFinished'] }, first: 100 });
      const types = auditLog.edges.filter((edge: any) => edge.node.streamName === stream).map((edge: any) => edge.node.type);
      expect(types.length).toBeGreaterThanOrEqual(6);
      expect(types.filter((type: string) => type === 'PruneFinished').length).toBe(types.filter((type: string) => type === 'PruneStarted').length);
    }, 240_000);

    it('refuses bad settings naming the field, and writes nothing', async () => {
      const { s } = await organization();
      const { plan } = await api.ok(api.rootToken, planQuery, { id: s.planId });
      const cases: [Record<string, unknown>, string, RegExp][] = [
        [{ schedule: { times: ['25:00'] } }, 'BAD_USER_INPUT', /schedule\.times/],
        [{ schedule: { times: ['02:00', '02:00'] } }, 'BAD_USER_INPUT', /schedule\.times/],
        [{ schedule: { times: ['02:00'], intervalMinutes: 60 } }, 'BAD_USER_INPUT', /schedule/],
        [{ schedule: { intervalMinutes: 10 } }, 'BAD_USER_INPUT', /schedule\.intervalMinutes/],
        [{ keepLast: 0 }, 'BAD_USER_INPUT', /keepLast/],
        [{ keepMonthly: 10_001 }, 'BAD_USER_INPUT', /keepMonthly/],
        [{ storageId: randomUUID() }, 'NOT_FOUND', /storageId/],
        [{ storageId: 'not-a-storage' }, 'NOT_FOUND', /storageId/],
      ];
      for (const [input, code, field] of cases) {
        const response = await api.request(api.rootToken, updateSettings, { planId: s.planId, input });
        expect({ input, code: response.errors?.[0]?.extensions?.code }).toEqual({ input, code });
        const named = `${response.errors?.[0]?.message} ${JSON.stringify(response.errors?.[0]?.extensions?.fields ?? {})} ${response.errors?.[0]?.extensions?.field ?? ''}`;
        expect(named).toMatch(field);
      }
      expect((await api.ok(api.rootToken, planQuery, { id: s.planId })).plan.version).toBe(plan.version);
      // A stale version is refused too.
      const stale = await api.request(api.rootToken, updateSettings, { planId: s.planId, input: { keepLast: 3 }, v: plan.version - 1 });
      expect(stale.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      // A good one shows its schedule and when it runs next.
      const { updatePlanBackupSettings } = await api.ok(api.rootToken, updateSettings, {
        planId: s.planId,
        input: { schedule: { times: ['23:59', '00:00'] }, keepDaily: 7, keepWeekly: 4 },
        v: plan.version,
      });
      expect(updatePlanBackupSettings.backupSettings).toMatchObject({
        schedule: { times: ['00:00', '23:59'], intervalMinutes: null },
        keepDaily: 7,
        keepWeekly: 4,
      });
      expect(Date.parse(updatePlanBackupSettings.backupSettings.nextRunAt)).toBeGreaterThan(Date.now() - 1000);
      expect(Date.parse(updatePlanBackupSettings.backupSettings.nextRunAt)).toBeLessThanOrEqual(Date.now() + 24 * 3600_000);
    }, 240_000);
  });
}
