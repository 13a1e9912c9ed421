import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { gitlabGroup } from '../support/gitlab-accounts';
import { buildScenario, ops, protectListedRepositories, secretValue, type Scenario } from '../support/scenario';
import { step, type Tab } from './chromium';
import { aria, lowContrast, unnamed, useConsole } from './console-session';

// Evaluated inside the page, where the DOM is; the test's own lib has none.
declare const document: any;

const run = promisify(execFile);
const LABEL = 'tk';
const DEADLINE = 30_000;
const TASK = `query($id: ID!) { task(id: $id) { id status repositoriesDone repositoriesTotal repositoriesFailed
  credentialsUsed { login requests credential { id login } } snapshots(first: 10) { edges { node { id fullPath } } } } }`;
const TASKS = 'query($planId: ID!) { tasks(planId: $planId) { id status } }';
const SNAPSHOTS = 'query($planId: ID!) { snapshots(planId: $planId, first: 100) { edges { node { id verification { ok checkedObjects } } } } }';
const RESTORE = 'query($id: ID!) { restore(id: $id) { id status projectPath counts { refs labels milestones issues notes releases } } }';
const RESTORE_SNAPSHOT = 'mutation($input: RestoreSnapshotInput!) { restoreSnapshot(input: $input) { id } }';

/** Branches and tags of a repository on disk, as `name sha` lines, sorted. */
async function refsOf(dir: string): Promise<string[]> {
  const { stdout } = await run('git', ['for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads', 'refs/tags'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), GIT_CONFIG_NOSYSTEM: '1' },
  });
  return stdout.split('\n').filter(Boolean).sort();
}

const text = (tab: Tab, selector: string) => tab.page.$eval(selector, (element: any) => (element.textContent as string).trim());

describe('the console: a task, its snapshots, verify and restore', () => {
  const { service, signedIn, tokenFor } = useConsole();
  let s: Scenario;
  let source: { id: number; fullPath: string };
  /** A project GitLab refuses to the run: its failure shows against it. */
  let broken: { id: number; fullPath: string };
  let writer: { passwordId: string; secret: string };
  let taskId: string;

  beforeAll(async () => {
    const api = service();
    // A project with history, a tag, issues with notes, labels, milestones and a release, as the restore's API test makes one.
    gitlabGroup(api.gitlab, `${LABEL}/platform`);
    source = api.gitlab.addProject(`${LABEL}/platform`, 'api', { issues: 2, mergeRequests: 1, labels: 2, milestones: 1, releases: 1, notes: 2 });
    await api.gitlab.commit(source.id, { files: { 'README.md': '# api\n' } });
    await api.gitlab.tag(source.id, 'v1.0.0');
    await api.gitlab.commit(source.id, { files: { 'CHANGELOG.md': '1.0.0\n' } });
    broken = api.gitlab.addProject(`${LABEL}/platform`, 'broken', { issues: 1 });
    s = await buildScenario(api, api.rootToken, LABEL);
    await protectListedRepositories(api, s.organizationId, 2, DEADLINE);
    gitlabGroup(api.gitlab, `${LABEL}/restored`);
    const secret = secretValue(`${LABEL}-write`);
    api.gitlab.addToken(`${LABEL}-admin`, { token: secret, scopes: ['api', 'write_repository'] });
    const { storePassword } = await api.ok(api.rootToken, ops.storePassword, { input: { name: `${LABEL} restore`, secret } });
    writer = { passwordId: storePassword.id, secret };
  }, 60_000);
  afterEach(() => service().gitlab.clearFaults());

  it("runs the plan from its page and follows the task live to COMPLETED, with each account's requests as the API counts them and a repository's failure", async () => {
    const api = service();
    const tab = await signedIn(api.rootToken, `/#/plans/${s.planId}`);
    const page = tab.page;

    await step(tab, 'run now', async () => {
      // GitLab answers the run's first project request late, so that the page sees the task running.
      api.gitlab.fault({ match: (request) => request.path.startsWith('/api/v4/projects/'), delayMs: 3_000, times: 1 });
      api.gitlab.fault({
        match: (request) => request.path.startsWith(`/api/v4/projects/${broken.id}/`) || request.path.includes(`/${broken.fullPath}.git/`),
        status: 404,
      });
      await page.locator(aria('Run now', 'button')).click();
      const listed = await page.waitForSelector('[data-tasks] tbody tr[data-task]');
      taskId = (await listed!.evaluate((element: any) => element.getAttribute('data-task'))) as string;
      const { tasks } = await api.ok(api.rootToken, TASKS, { planId: s.planId });
      expect(tasks.map((task: { id: string }) => task.id)).toEqual([taskId]);
      await page.locator(`tr[data-task="${taskId}"] a`).click();
      await page.waitForSelector(`[data-task-page="${taskId}"][data-status="RUNNING"]`);
      expect(await page.evaluate(() => document.location.hash as string)).toBe(`#/plans/${s.planId}/tasks/${taskId}`);
      expect(await text(tab, '[data-task-finished]')).toBe('not yet');
    });

    await step(tab, 'completed', async () => {
      await page.waitForSelector(`[data-task-page="${taskId}"][data-status="COMPLETED"]`, { timeout: DEADLINE });
      const { task } = await api.ok(api.rootToken, TASK, { id: taskId });
      expect(task.status).toBe('COMPLETED');
      expect(await text(tab, '[data-task-progress]')).toContain(`${task.repositoriesDone} of ${task.repositoriesTotal} read`);
      // Each account with its requests, the additional credential named as one.
      const expected = task.credentialsUsed.map((use: { login: string; requests: number }) => [use.login, String(use.requests)]);
      expect(expected.length).toBeGreaterThan(0);
      await page.waitForFunction((count: number) => document.querySelectorAll('[data-credentials-used] tbody tr').length === count, {}, expected.length);
      const shown = await page.$$eval('[data-credentials-used] tbody tr', (rows: any[]) =>
        rows.map((row) => [row.getAttribute('data-login'), row.querySelector('[data-requests]').textContent]),
      );
      expect(shown).toEqual(expected);
      const additional = task.credentialsUsed.find((use: { credential: unknown }) => use.credential !== null);
      if (additional) expect(await text(tab, `[data-credentials-used] tr[data-login="${additional.login}"]`)).toContain('Additional credential');
      const snapshotIds = task.snapshots.edges.map((edge: { node: { id: string } }) => edge.node.id);
      await page.waitForFunction(
        (ids: string) =>
          JSON.stringify([...document.querySelectorAll('[data-task-repositories] tr[data-snapshot]')].map((row: any) => row.getAttribute('data-snapshot'))) ===
          ids,
        {},
        JSON.stringify(snapshotIds),
      );
      expect(await text(tab, `tr[data-snapshot="${snapshotIds[0]}"] th`)).toBe(source.fullPath);
      // The refused project, with the reason the history gives.
      expect(task.repositoriesFailed).toBe(1);
      const failed = `[data-task-repositories] tr[data-repository-failed="${broken.fullPath}"]`;
      await page.waitForSelector(failed);
      const { auditLog } = await api.ok(api.rootToken, ops.auditLog, { filter: { planId: s.planId, types: ['RepositoryBackupFailed'] }, first: 10 });
      expect(auditLog.edges).toHaveLength(1);
      expect(await text(tab, `${failed} td`)).toBe(`Failed: ${auditLog.edges[0].node.data.reason}`);
      expect(await unnamed(tab)).toEqual([]);
      expect(await lowContrast(tab)).toEqual([]);
    });
    expect(tab.errors).toEqual([]);
  });

  it("lists the plan's snapshots, verifies one, shows a refused group next to its field, and restores into a new project", async () => {
    const api = service();
    const tab = await signedIn(api.rootToken, `/#/plans/${s.planId}`);
    const page = tab.page;
    const { snapshots } = await api.ok(api.rootToken, SNAPSHOTS, { planId: s.planId });
    const ids: string[] = snapshots.edges.map((edge: { node: { id: string } }) => edge.node.id);
    expect(ids.length).toBeGreaterThan(0);
    const snapshotId = ids[0]!;
    const row = `[data-snapshots] tr[data-snapshot="${snapshotId}"]`;

    await step(tab, 'snapshots', async () => {
      await page.locator(aria('Snapshots', 'link')).click();
      await page.waitForSelector('[data-snapshots] tbody tr');
      const shown = await page.$$eval('[data-snapshots] tbody tr', (rows: any[]) => rows.map((element) => element.getAttribute('data-snapshot')));
      expect(shown).toEqual(ids);
      expect(await text(tab, `${row} th`)).toBe(source.fullPath);
      expect(await text(tab, `${row} [data-verification]`)).toBe('Never verified');
      expect(await page.$(aria('Prune…', 'button'))).not.toBeNull();
      expect(await unnamed(tab)).toEqual([]);
      expect(await lowContrast(tab)).toEqual([]);
    });

    await step(tab, 'verify', async () => {
      await page.locator(`${row} button`).click();
      await page.waitForSelector(`${row} [data-verified="ok"]`, { timeout: DEADLINE });
      const { snapshots: after } = await api.ok(api.rootToken, SNAPSHOTS, { planId: s.planId });
      const verification = after.edges.find((edge: { node: { id: string } }) => edge.node.id === snapshotId).node.verification;
      expect(verification.ok).toBe(true);
      expect(await text(tab, `${row} [data-verified]`)).toContain(`${verification.checkedObjects} objects intact`);
    });

    await step(tab, 'prune asks first', async () => {
      await page.locator(aria('Prune…', 'button')).click();
      const question = await text(tab, '[data-prune-confirm] p');
      expect(question).toContain('retention');
      expect(question).toContain('cannot be undone');
      // The keyboard lands on the confirmation; Tab and Enter cancel it.
      await page.waitForFunction(() => document.activeElement?.textContent === 'Prune snapshots now');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.querySelector('[data-prune-confirm]') === null);
      // Closed, it gives the keyboard back to the button that opened it.
      await page.waitForFunction(() => document.activeElement?.textContent === 'Prune…');
    });

    const group = '[data-field="namespacePath"]';
    await step(tab, 'a refused group', async () => {
      await page.locator(`${row} a.button`).click();
      await page.waitForSelector(`[data-restore-of="${snapshotId}"]`);
      await page.waitForSelector(`#restore-password option[value="${writer.passwordId}"]`);
      await page.select('#restore-password', writer.passwordId);
      await page.locator(`${group} input`).fill(`${LABEL}/nowhere`);
      await page.locator('[data-field="projectName"] input').fill('api-again');
      await page.locator(aria('Restore', 'button')).click();
      await page.waitForSelector(`${group} [data-field-error]`);
      const theirs = await api.request(api.rootToken, RESTORE_SNAPSHOT, {
        input: { snapshotId, namespacePath: `${LABEL}/nowhere`, projectName: 'api-again', passwordId: writer.passwordId },
      });
      expect(theirs.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'namespacePath' } });
      expect(await text(tab, `${group} [data-field-error]`)).toBe(theirs.errors?.[0].message);
      expect(await page.$eval(`${group} input`, (input: any) => input.getAttribute('aria-invalid'))).toBe('true');
      expect(await page.$('[data-field="projectName"] [data-field-error]')).toBeNull();
      expect(await unnamed(tab)).toEqual([]);
      expect(await lowContrast(tab)).toEqual([]);
    });

    await step(tab, 'restored', async () => {
      await page.locator(`${group} input`).fill(`${LABEL}/restored`);
      await page.locator(aria('Restore', 'button')).click();
      await page.waitForSelector('[data-restore][data-status="COMPLETED"]', { timeout: DEADLINE });
      const restoreId = await page.$eval('[data-restore]', (element: any) => element.getAttribute('data-restore') as string);
      expect(await page.evaluate(() => document.location.hash as string)).toBe(`#/plans/${s.planId}/snapshots/restores/${restoreId}`);
      const { restore } = await api.ok(api.rootToken, RESTORE, { id: restoreId });
      expect(restore).toMatchObject({ status: 'COMPLETED', projectPath: `${LABEL}/restored/api-again` });
      expect(await text(tab, '[data-restore-project]')).toBe(restore.projectPath);
      for (const [name, count] of Object.entries(restore.counts)) expect([name, await text(tab, `[data-count="${name}"]`)]).toEqual([name, String(count)]);
      // What the page says was re-created is in GitLab: the project, private, with the source's issues and tag.
      const gitlab = async (path: string): Promise<any> => {
        const response = await fetch(`${api.gitlab.url}/api/v4/${path}`, { headers: { 'private-token': writer.secret } });
        expect([path, response.status]).toEqual([path, 200]);
        return response.json();
      };
      const project = await gitlab(`projects/${encodeURIComponent(restore.projectPath)}`);
      expect(project.visibility).toBe('private');
      const titles = async (id: number) => (await gitlab(`projects/${id}/issues?per_page=100&sort=asc`)).map((issue: { title: string }) => issue.title);
      expect(await titles(project.id)).toEqual(await titles(source.id));
      expect(restore.counts.issues).toBe((await titles(project.id)).length);
      // The same branches and tags, at the same commits, in the new project's repository.
      const restored = await refsOf(api.gitlab.repositoryOf(project.id));
      expect(restored).toEqual(await refsOf(api.gitlab.repositoryOf(source.id)));
      expect(restored.some((line) => line.startsWith('refs/tags/v1.0.0 '))).toBe(true);
      expect(await unnamed(tab)).toEqual([]);
      expect(await lowContrast(tab)).toEqual([]);
    });
    expect(tab.errors).toEqual([]);
  });

  it('shows a VIEWER and an AUDITOR the task and the snapshots without Verify, Restore or Prune', async () => {
    for (const role of ['VIEWER', 'AUDITOR']) {
      const tab = await signedIn(await tokenFor(role), `/#/plans/${s.planId}/tasks/${taskId}`);
      const page = tab.page;
      await step(tab, role, async () => {
        await page.waitForSelector(`[data-task-page="${taskId}"][data-status="COMPLETED"]`);
        await page.locator(aria('Snapshots of this plan', 'link')).click();
        await page.waitForSelector('[data-snapshots] tbody tr');
        for (const label of ['Prune…', 'Verify', 'Restore']) {
          expect([role, label, await page.$(`::-p-text(${label})`)]).toEqual([role, label, null]);
        }
        expect(await page.$('[data-snapshots] button, [data-snapshots] a.button')).toBeNull();
      });
      expect(tab.errors).toEqual([]);
    }
  });
});
