import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { gitlabGroup } from '../support/gitlab-accounts';
import { captureOutput } from '../support/output-capture';
import { buildScenario, ops, protectListedRepositories, secretValue, type Scenario } from '../support/scenario';

const run = promisify(execFile);
const DEADLINE = 30_000;

const runPlan = 'mutation($planId: ID!) { runPlan(planId: $planId) { id status } }';
const taskQuery = 'query($id: ID!) { task(id: $id) { id status reason snapshots(first: 10) { edges { node { id fullPath archiveUrl } } } } }';
const RESTORE_FIELDS = `id status target namespacePath projectPath archiveUrl step stepsDone stepsTotal reason startedAt finishedAt
  actor { id name role } snapshot { id } counts { refs labels milestones issues notes releases } leftOut { refs mergeRequests wiki }`;
const restoreSnapshot = `mutation($input: RestoreSnapshotInput!) { restoreSnapshot(input: $input) { ${RESTORE_FIELDS} } }`;
const restoreQuery = `query($id: ID!) { restore(id: $id) { ${RESTORE_FIELDS} } }`;
const RESTORE_EVENTS = ['RestoreStarted', 'RestoreProgressed', 'RestoreCompleted', 'RestoreFailed'];

let labels = 0;

/** Branches and tags of a repository on disk, as `name sha` lines, sorted. */
async function branchesAndTags(dir: string): Promise<string[]> {
  const { stdout } = await run('git', ['for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads', 'refs/tags'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), GIT_CONFIG_NOSYSTEM: '1' },
  });
  return stdout.split('\n').filter(Boolean).sort();
}

for (const store of apiStores) {
  describe(`restoring a snapshot into a new GitLab project or as an archive, on ${store}`, () => {
    const output = captureOutput();
    let storage: TestStorage;
    let api: TestApi;

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage, { logger: output.logger, service: { work: { runConcurrency: 2, runFlushMs: 50 } } });
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
      output.restore();
    });

    /** GitLab's JSON, read as a user of the double who sees everything the test made. */
    async function gitlabGet(token: string, path: string): Promise<any> {
      const response = await fetch(`${api.gitlab.url}/api/v4/${path}`, { headers: { 'private-token': token } });
      expect([path, response.status]).toEqual([path, 200]);
      return response.json();
    }

    /** A backed-up project with history, a tag, a merge request's ref, issues with notes, labels, milestones and a release. */
    async function backedUp(): Promise<{ s: Scenario; label: string; source: { id: number; fullPath: string }; snapshotId: string; archiveUrl: string }> {
      const label = `rs${++labels}${store}`;
      gitlabGroup(api.gitlab, `${label}/platform`);
      const source = api.gitlab.addProject(`${label}/platform`, 'api', { issues: 3, mergeRequests: 2, labels: 2, milestones: 2, releases: 1, notes: 4 });
      await api.gitlab.commit(source.id, { files: { 'README.md': '# api\n' } });
      await api.gitlab.commit(source.id, { branch: 'feature', files: { 'feature.txt': 'a feature\n' } });
      await api.gitlab.tag(source.id, 'v1.0.0');
      const head = await api.gitlab.commit(source.id, { files: { 'CHANGELOG.md': '1.0.0\n' } });
      await api.gitlab.setRef(source.id, 'refs/merge-requests/1/head', head);
      await api.gitlab.commit(source.id, { wiki: true, files: { 'home.md': 'The wiki\n' } });
      const s = await buildScenario(api, api.rootToken, label);
      await protectListedRepositories(api, s.organizationId, 1, DEADLINE);
      const { runPlan: started } = await api.ok(api.rootToken, runPlan, { planId: s.planId });
      const task = await eventually(async () => {
        const { task } = await api.ok(api.rootToken, taskQuery, { id: started.id });
        expect(task.status).toBe('COMPLETED');
        return task;
      }, DEADLINE);
      const snapshot = task.snapshots.edges[0].node;
      gitlabGroup(api.gitlab, `${label}/restored`);
      return { s, label, source, snapshotId: snapshot.id, archiveUrl: snapshot.archiveUrl };
    }

    /** A password entry with a token of the organization's admin that has the scopes given. */
    async function writeToken(label: string, scopes: string[]): Promise<{ passwordId: string; secret: string }> {
      const secret = secretValue(`${label}-write`);
      api.gitlab.addToken(`${label}-admin`, { token: secret, scopes });
      const { storePassword } = await api.ok(api.rootToken, ops.storePassword, { input: { name: `${label} restore ${scopes.join(' ')}`, secret } });
      return { passwordId: storePassword.id, secret };
    }

    async function restoreEvents(): Promise<any[]> {
      const { auditLog } = await api.ok(api.rootToken, ops.auditLog, { filter: { types: RESTORE_EVENTS }, first: 100 });
      return auditLog.edges.map((edge: any) => edge.node);
    }

    it('restores into a new project the same branches and tags, issues with their notes, labels, milestones and releases, recorded with who did it', async () => {
      const { s, label, source, snapshotId } = await backedUp();
      const { passwordId, secret } = await writeToken(label, ['api', 'write_repository']);
      const { restoreSnapshot: started } = await api.ok(api.rootToken, restoreSnapshot, {
        input: { snapshotId, target: 'GITLAB_PROJECT', namespacePath: `${label}/restored`, projectName: 'api-again', passwordId },
      });
      expect(started).toMatchObject({
        status: 'RUNNING',
        target: 'GITLAB_PROJECT',
        namespacePath: `${label}/restored`,
        snapshot: { id: snapshotId },
        finishedAt: null,
      });
      const done = await eventually(async () => {
        const { restore } = await api.ok(api.rootToken, restoreQuery, { id: started.id });
        expect(restore.status).not.toBe('RUNNING');
        return restore;
      }, DEADLINE);
      expect(done).toMatchObject({
        status: 'COMPLETED',
        reason: null,
        projectPath: `${label}/restored/api-again`,
        archiveUrl: null,
        stepsDone: 6,
        stepsTotal: 6,
        counts: { refs: 3, labels: 2, milestones: 2, issues: 3, releases: 1 },
        leftOut: { refs: ['refs/merge-requests/1/head'], mergeRequests: 2, wiki: true },
        actor: { role: 'ADMIN' },
      });

      // The same branches and tags, the same objects.
      const project = await gitlabGet(secret, `projects/${encodeURIComponent(done.projectPath)}`);
      // A restore never widens who sees the code.
      expect(project.visibility).toBe('private');
      const restored = await branchesAndTags(api.gitlab.repositoryOf(project.id));
      expect(restored).toEqual(await branchesAndTags(api.gitlab.repositoryOf(source.id)));
      expect(restored.some((line) => line.startsWith('refs/tags/v1.0.0 '))).toBe(true);

      // The same issues, in the same order, each note kept with who wrote it and when; system notes left to GitLab.
      const list = async (id: number, what: string) => gitlabGet(secret, `projects/${id}/${what}?per_page=100&sort=asc`);
      const sourceIssues = await list(source.id, 'issues');
      const restoredIssues = await list(project.id, 'issues');
      expect(restoredIssues.map((issue: any) => issue.title)).toEqual(sourceIssues.map((issue: any) => issue.title));
      expect(restoredIssues.map((issue: any) => issue.labels)).toEqual(sourceIssues.map((issue: any) => issue.labels));
      expect(restoredIssues.map((issue: any) => issue.state)).toEqual(sourceIssues.map((issue: any) => issue.state));
      expect(restoredIssues.map((issue: any) => issue.state)).toContain('closed');
      expect(restoredIssues.map((issue: any) => issue.milestone?.title)).toEqual(sourceIssues.map((issue: any) => issue.milestone?.title));
      expect(restoredIssues[0].description).toBe(
        `Originally by \`${sourceIssues[0].author.username}\` on ${sourceIssues[0].created_at}\n\n${sourceIssues[0].description}`,
      );
      let notes = 0;
      for (const [index, issue] of sourceIssues.entries()) {
        const kept = (await list(source.id, `issues/${issue.iid}/notes`)).filter((note: any) => !note.system);
        const written = await list(project.id, `issues/${restoredIssues[index].iid}/notes`);
        expect(written.map((note: any) => note.body)).toEqual(
          kept.map((note: any) => `Originally by \`${note.author.username}\` on ${note.created_at}\n\n${note.body}`),
        );
        // An internal note stays internal.
        expect(written.map((note: any) => note.internal)).toEqual(kept.map((note: any) => note.internal === true));
        expect(kept.some((note: any) => note.internal === true)).toBe(true);
        notes += kept.length;
      }
      expect(notes).toBeGreaterThan(0);
      expect(done.counts.notes).toBe(notes);
      const names = async (id: number, what: string, field: string) => (await list(id, what)).map((item: any) => item[field]).sort();
      expect(await names(project.id, 'labels', 'name')).toEqual(await names(source.id, 'labels', 'name'));
      expect(await names(project.id, 'milestones', 'title')).toEqual(await names(source.id, 'milestones', 'title'));
      expect(await names(project.id, 'releases', 'tag_name')).toEqual(['v1.0.0']);

      // The history says who restored what, where, when; no token in it, in the answers, or in the log.
      const events = (await restoreEvents()).filter((event) => event.data.restoreId === started.id);
      const types = events.map((event) => event.type);
      expect(types).toContain('RestoreStarted');
      expect(types).toContain('RestoreCompleted');
      expect(types.filter((type) => type === 'RestoreProgressed')).toHaveLength(6);
      const startedEvent = events.find((event) => event.type === 'RestoreStarted');
      expect(startedEvent.actor).toMatchObject({ role: 'ADMIN' });
      expect(startedEvent.data).toMatchObject({ snapshotId, namespacePath: `${label}/restored`, projectName: 'api-again', passwordId });
      const seen = JSON.stringify({ events, started, done }) + output.text();
      for (const value of [secret, ...s.secrets]) expect(seen.includes(value)).toBe(false);
    });

    it('refuses a path where a project exists, and neither makes nor records anything', async () => {
      const { label, snapshotId } = await backedUp();
      const { passwordId } = await writeToken(label, ['api', 'write_repository']);
      api.gitlab.addProject(`${label}/restored`, 'taken');
      const before = (await restoreEvents()).length;
      api.gitlab.resetRequests();
      const answer = await api.request(api.rootToken, restoreSnapshot, {
        input: { snapshotId, namespacePath: `${label}/restored`, projectName: 'taken', passwordId },
      });
      expect(answer.errors?.[0]).toMatchObject({ extensions: { code: 'CONFLICT', field: 'projectName' } });
      expect(answer.errors?.[0].message).toContain(`${label}/restored/taken exists`);
      expect(api.gitlab.requests.filter((request) => request.method !== 'GET')).toEqual([]);
      expect((await restoreEvents()).length).toBe(before);
    });

    it('refuses a token that may not push, naming passwordId, and a namespace that does not exist, naming namespacePath', async () => {
      const { label, snapshotId } = await backedUp();
      const readOnly = await writeToken(label, ['api']);
      const before = (await restoreEvents()).length;
      api.gitlab.resetRequests();
      const refused = await api.request(api.rootToken, restoreSnapshot, {
        input: { snapshotId, namespacePath: `${label}/restored`, projectName: 'nope', passwordId: readOnly.passwordId },
      });
      expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'GITLAB_AUTH_FAILED', field: 'passwordId' } });
      expect(refused.errors?.[0].message).toContain('write_repository');

      const writer = await writeToken(label, ['api', 'write_repository']);
      const nowhere = await api.request(api.rootToken, restoreSnapshot, {
        input: { snapshotId, namespacePath: `${label}/nowhere`, projectName: 'nope', passwordId: writer.passwordId },
      });
      expect(nowhere.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'namespacePath' } });
      const missing = await api.request(api.rootToken, restoreSnapshot, { input: { snapshotId, projectName: 'nope', passwordId: writer.passwordId } });
      expect(missing.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'namespacePath' } });
      expect(api.gitlab.requests.filter((request) => request.method !== 'GET')).toEqual([]);
      expect((await restoreEvents()).length).toBe(before);
    });

    it('fails with the reason and the project it made when GitLab refuses a write midway, and keeps the token out of it', async () => {
      const { label, snapshotId } = await backedUp();
      const { passwordId, secret } = await writeToken(label, ['api', 'write_repository']);
      api.gitlab.fault({ match: (request) => request.method === 'POST' && request.path.endsWith('/issues'), status: 403, times: 1 });
      const { restoreSnapshot: started } = await api.ok(api.rootToken, restoreSnapshot, {
        input: { snapshotId, namespacePath: `${label}/restored`, projectName: 'half', passwordId },
      });
      const failed = await eventually(async () => {
        const { restore } = await api.ok(api.rootToken, restoreQuery, { id: started.id });
        expect(restore.status).not.toBe('RUNNING');
        return restore;
      }, DEADLINE);
      api.gitlab.clearFaults();
      expect(failed).toMatchObject({ status: 'FAILED', projectPath: `${label}/restored/half`, step: 'milestones', stepsDone: 4, counts: null });
      expect(failed.reason).toContain('403');
      expect(failed.finishedAt).not.toBeNull();
      const events = (await restoreEvents()).filter((event) => event.data.restoreId === started.id);
      expect(events.map((event) => event.type)).toContain('RestoreFailed');
      expect(JSON.stringify({ events, failed }).includes(secret)).toBe(false);
    });

    it('as an archive completes at once with the URL that downloads it', async () => {
      const { snapshotId, archiveUrl } = await backedUp();
      const { restoreSnapshot: done } = await api.ok(api.rootToken, restoreSnapshot, { input: { snapshotId, target: 'ARCHIVE' } });
      expect(done).toMatchObject({ status: 'COMPLETED', target: 'ARCHIVE', archiveUrl, projectPath: null });
      expect(done.finishedAt).not.toBeNull();
      const response = await fetch(new URL(done.archiveUrl, api.url), { headers: { authorization: `Bearer ${api.rootToken}` } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/gzip');
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(0);
      const { restore } = await api.ok(api.rootToken, restoreQuery, { id: done.id });
      expect(restore).toMatchObject({ id: done.id, status: 'COMPLETED' });
    });

    it('is for operators: a viewer may read restores but not start one', async () => {
      const { snapshotId } = await backedUp();
      const { createApiToken } = await api.ok(api.rootToken, ops.createApiToken, { name: `viewer ${labels}`, role: 'VIEWER' });
      const refused = await api.request(createApiToken.token, restoreSnapshot, { input: { snapshotId, target: 'ARCHIVE' } });
      expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
      const { restoreSnapshot: done } = await api.ok(api.rootToken, restoreSnapshot, { input: { snapshotId, target: 'ARCHIVE' } });
      const { restore } = await api.ok(createApiToken.token, restoreQuery, { id: done.id });
      expect(restore.id).toBe(done.id);
    });
  });
}
