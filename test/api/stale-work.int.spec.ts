import { randomUUID } from 'node:crypto';
import { execute, type Request } from '../../src/app/deps';
import { beatWhileRunning } from '../../src/app/plan-run/heartbeat';
import { systemPrincipal } from '../../src/app/principal';
import { recordSnapshot } from '../../src/app/backup/record-snapshot';
import { restore, restoreStream } from '../../src/domain/restore';
import { snapshotStream, type SnapshotTaken } from '../../src/domain/snapshot';
import { DEFAULT_STORAGE_ID } from '../../src/domain/storage';
import { task, taskStream } from '../../src/domain/task';
import { restoreById } from '../../src/queries/restores';
import { taskById } from '../../src/queries/tasks';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { captureOutput } from '../support/output-capture';

const STALE_MS = 1_500;

for (const store of apiStores) {
  describe(`work whose process is gone, on ${store}`, () => {
    const output = captureOutput();
    let storage: TestStorage;
    let api: TestApi;
    const request = (): Request => ({ principal: systemPrincipal('default'), correlationId: randomUUID() });

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage, {
        logger: output.logger,
        service: { work: { taskStaleAfterMs: STALE_MS }, staleWork: { everyMs: 200 } },
      });
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
      output.restore();
    });

    /** A restore into GitLab recorded as started by a process that then went away (or beats, when `beating`). */
    async function startedRestore(): Promise<string> {
      const restoreId = randomUUID();
      await execute(api.service.app, request(), restore, restoreStream(restoreId), {
        type: 'StartRestore',
        data: {
          restoreId,
          snapshotId: randomUUID(),
          repositoryId: randomUUID(),
          organizationId: randomUUID(),
          target: 'GITLAB_PROJECT',
          namespacePath: 'acme/restored',
          projectName: `api-${restoreId.slice(0, 8)}`,
          passwordId: randomUUID(),
          startedAt: new Date().toISOString(),
        },
      });
      return restoreId;
    }

    async function startedTask(): Promise<string> {
      const taskId = randomUUID();
      await execute(api.service.app, request(), task, taskStream(taskId), {
        type: 'StartBackupTask',
        data: { taskId, planId: randomUUID(), organizationId: randomUUID(), repositoriesTotal: 3, now: new Date().toISOString(), known: { planActive: true } },
      });
      return taskId;
    }

    it('records a silent restore and a silent task as failed, as Backplane, and leaves beating ones running', async () => {
      const { app } = api.service;
      const [deadRestore, liveRestore, deadTask, liveTask] = [await startedRestore(), await startedRestore(), await startedTask(), await startedTask()];
      const stopRestoreBeats = beatWhileRunning(app, 'default', liveRestore);
      const stopTaskBeats = beatWhileRunning(app, 'default', liveTask);
      try {
        const failedRestore = await eventually(async () => {
          const view = await restoreById(app.db, 'default', deadRestore);
          expect(view?.status).toBe('FAILED');
          return view!;
        }, 20_000);
        expect(failedRestore.reason).toMatch(/^interrupted: no sign of life for \d+ minutes, its process is taken to be gone$/);
        expect(failedRestore.finishedAt).not.toBeNull();
        const failedTask = await eventually(async () => {
          const view = await taskById(app.db, 'default', deadTask);
          expect(view?.status).toBe('FAILED');
          return view!;
        }, 20_000);
        expect(failedTask.reason).toMatch(/^interrupted: no sign of life/);

        // Several checks later, the beating ones still run: silence in their streams alone is no death.
        const checksSeen = Date.now() + 3 * STALE_MS;
        await eventually(() => expect(Date.now()).toBeGreaterThan(checksSeen), 10_000, 200);
        expect((await restoreById(app.db, 'default', liveRestore))?.status).toBe('RUNNING');
        expect((await taskById(app.db, 'default', liveTask))?.status).toBe('RUNNING');

        // Who recorded the failure: Backplane itself, not a user.
        const [failure] = await app.store.readStream(restoreStream(deadRestore), { fromRevision: 'end', direction: 'backwards', maxCount: 1 });
        expect(failure.type).toBe('RestoreFailed');
        expect(JSON.stringify(failure.metadata)).toContain(systemPrincipal('default').tokenId);
      } finally {
        await stopRestoreBeats();
        await stopTaskBeats();
      }
      // Once its beats stop, the live one is taken for gone too.
      await eventually(async () => expect((await restoreById(app.db, 'default', liveRestore))?.status).toBe('FAILED'), 20_000);
    });
    it('refuses the snapshot of a task taken for gone, whose objects a prune may have removed since', async () => {
      const { app } = api.service;
      const taken = (taskId: string): SnapshotTaken => ({
        snapshotId: randomUUID(),
        taskId,
        planId: randomUUID(),
        organizationId: randomUUID(),
        repositoryId: randomUUID(),
        fullPath: 'acme/platform/api',
        storageId: DEFAULT_STORAGE_ID,
        takenAt: new Date().toISOString(),
        manifestHash: 'a'.repeat(64),
        bytes: 10,
        objects: 1,
        newBytes: 10,
        storedBytes: 40,
        wiki: false,
        counts: { refs: 1, branches: 1, tags: 0, labels: 0, milestones: 0, issues: 0, issueNotes: 0, mergeRequests: 0, mergeRequestNotes: 0, releases: 0 },
        credentialsUsed: [],
      });
      const gone = await startedTask();
      await eventually(async () => expect((await taskById(app.db, 'default', gone))?.status).toBe('FAILED'), 20_000);
      const late = taken(gone);
      await expect(recordSnapshot(app, request(), late)).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/has ended/) });
      expect(await app.store.readStream(snapshotStream(late.snapshotId))).toEqual([]);

      const running = await startedTask();
      const stopBeats = beatWhileRunning(app, 'default', running);
      try {
        const inTime = taken(running);
        await recordSnapshot(app, request(), inTime);
        expect((await app.store.readStream(snapshotStream(inTime.snapshotId))).map((event) => event.type)).toEqual(['SnapshotRecorded']);
      } finally {
        await stopBeats();
      }
    });
  });
}
