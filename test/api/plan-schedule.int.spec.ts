import { randomUUID } from 'node:crypto';
import { pruneStreamOf } from '../../src/app/backup/prune-state';
import { DEFAULT_STORAGE_ID } from '../../src/app/backup/storages';
import { execute } from '../../src/app/deps';
import { systemPrincipal } from '../../src/app/principal';
import { prune } from '../../src/domain/prune';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { gitlabGroup } from '../support/gitlab-accounts';
import { buildScenario, ops, protectListedRepositories } from '../support/scenario';

const DEADLINE = 30_000;
const MINUTE = 60_000;

const updateSettings = `mutation($planId: ID!, $input: PlanBackupSettingsInput!) {
  updatePlanBackupSettings(planId: $planId, input: $input) { id backupSettings { schedule { times intervalMinutes } nextRunAt } } }`;
const tasksQuery = 'query($planId: ID!) { tasks(planId: $planId) { id status startedAt startedBy { name } } }';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const store of apiStores) {
  describe(`the plan schedule, on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    let skew = 0;

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage, {
        env: { BACKPLANE_SYNC_CHECK_MS: '50' },
        service: { scheduleClock: () => new Date(Date.now() + skew), work: { runFlushMs: 50 } },
      });
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    it('starts a due run once per slot as Backplane itself, one run for slots missed, and none while its storage is pruned', async () => {
      const label = `sched${store}`;
      gitlabGroup(api.gitlab, `${label}/platform`);
      const project = api.gitlab.addProject(`${label}/platform`, 'app', { issues: 1 });
      await api.gitlab.commit(project.id, { files: { 'README.md': '# app\n' } });
      const s = await buildScenario(api, api.rootToken, label);
      await protectListedRepositories(api, s.organizationId, 1, DEADLINE);
      const tasks = async () =>
        (await api.ok(api.rootToken, tasksQuery, { planId: s.planId })).tasks as { id: string; status: string; startedBy: { name: string } }[];
      const settled = async (count: number) =>
        eventually(async () => {
          const all = await tasks();
          expect(all).toHaveLength(count);
          for (const task of all) expect(task.status).toBe('COMPLETED');
          return all;
        }, DEADLINE);

      const { updatePlanBackupSettings } = await api.ok(api.rootToken, updateSettings, { planId: s.planId, input: { schedule: { intervalMinutes: 15 } } });
      const nextRunAt = Date.parse(updatePlanBackupSettings.backupSettings.nextRunAt);
      expect(nextRunAt).toBeGreaterThan(Date.now() + 14 * MINUTE);
      expect(nextRunAt).toBeLessThanOrEqual(Date.now() + 15 * MINUTE);
      // Setting a schedule starts nothing at once: the first slot is 15 minutes away.
      await pause(600);
      expect(await tasks()).toEqual([]);

      // 16 minutes later, the slot is served by one run, started by Backplane.
      skew = 16 * MINUTE;
      const [first] = await settled(1);
      expect(first.startedBy.name).not.toBe((await api.ok(api.rootToken, ops.me)).me.name);
      await pause(600);
      expect(await tasks()).toHaveLength(1);

      // Times of day, and three days without a look (a process that was down): one run, not one per slot.
      await api.ok(api.rootToken, updateSettings, { planId: s.planId, input: { schedule: { times: ['00:00', '06:00', '12:00', '18:00'] } } });
      skew = 3 * 24 * 60 * MINUTE;
      await settled(2);
      await pause(800);
      expect(await tasks()).toHaveLength(2);

      // A prune of the plan's storage under way (in another process, beating): the due slot waits for its end.
      const { me } = await api.ok(api.rootToken, ops.me);
      const tenantId = me.tenant.id;
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
      skew = 4 * 24 * 60 * MINUTE;
      await pause(800);
      expect(await tasks()).toHaveLength(2);
      await execute(api.service.app, request, prune, stream, {
        type: 'FinishPrune',
        data: { pruneId, now: new Date().toISOString(), objectsRemoved: 0, bytesFreed: 0, failure: null },
      });
      await api.service.app.heartbeats.stop(pruneId);
      await settled(3);
      await pause(600);
      expect(await tasks()).toHaveLength(3);

      // Without a schedule, nothing starts however late it gets.
      await api.ok(api.rootToken, updateSettings, { planId: s.planId, input: {} });
      skew = 10 * 24 * 60 * MINUTE;
      await pause(800);
      expect(await tasks()).toHaveLength(3);
    }, 240_000);
  });
}
