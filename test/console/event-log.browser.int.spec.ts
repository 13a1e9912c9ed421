import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTarGz } from '../../src/audit-export/tar-reader';
import { eventually } from '../support/eventually';
import { buildScenario, ops, type Scenario } from '../support/scenario';
import { step, type Tab } from './chromium';
import { allowDownloads, aria, downloaded, lowContrast, unnamed, useConsole } from './console-session';

// Evaluated inside the page, where the DOM is; the test's own lib has none.
declare const document: any;

const TOGGLED = 'PlanCredentialToggled';
const DIGESTS = 'query { auditDigests(first: 500) { edges { node { cursor sequence keyId eventCount } } } auditSigningKeys { keyId retiredAt } }';

/** The event ids of an export's JSON lines, in their order. */
const jsonlIds = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line).id as string);

describe('the console: event log, export, digests', () => {
  const { service, origin, signedIn, tokenFor } = useConsole();
  let alpha: Scenario;
  let beta: Scenario;
  let folder: string;

  beforeAll(async () => {
    const api = service();
    alpha = await buildScenario(api, api.rootToken, 'alpha');
    beta = await buildScenario(api, api.rootToken, 'beta');
    folder = await mkdtemp(join(tmpdir(), 'backplane-console-downloads-'));
  });
  afterAll(async () => {
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  /** The ids auditLog gives for a filter, in log order. */
  async function apiIds(filter: Record<string, unknown>): Promise<string[]> {
    const api = service();
    const { auditLog } = await api.ok(api.rootToken, ops.auditLog, { filter, first: 500 });
    return auditLog.edges.map((edge: { node: { id: string } }) => edge.node.id);
  }

  const rowIds = (tab: Tab) =>
    tab.page.$$eval('[data-event-log] tbody[data-event-id]', (rows: any[]) => rows.map((row) => row.getAttribute('data-event-id') as string));

  /** Waits until the log shows exactly these events, in this order. */
  const showsExactly = (tab: Tab, ids: string[]) =>
    tab.page.waitForFunction(
      (expected: string) =>
        JSON.stringify([...document.querySelectorAll('[data-event-log] tbody[data-event-id]')].map((row: any) => row.getAttribute('data-event-id'))) ===
        expected,
      {},
      JSON.stringify(ids),
    );

  async function toggle(scenario: Scenario, index: number, enabled: boolean): Promise<void> {
    const api = service();
    const { plan } = await api.ok(api.rootToken, ops.plan, { id: scenario.planId });
    await api.ok(api.rootToken, ops.togglePlanCredential, { planId: scenario.planId, credentialId: scenario.credentialIds[index], enabled, v: plan.version });
  }

  it('shows the log, filters it by type and by plan in a link that can be shared, and follows new events as they happen', async () => {
    const api = service();
    const tab = await signedIn(api.rootToken);
    const page = tab.page;

    await step(tab, 'the whole log', async () => {
      await page.locator(aria('Audit', 'link')).click();
      await page.locator(aria('Event log', 'link')).click();
      await page.waitForSelector('[data-event-log] tbody[data-event-id]');
      const shown = await rowIds(tab);
      // In log order, as the API pages it; events recorded since may follow.
      expect((await apiIds({})).slice(0, shown.length)).toEqual(shown);
      expect(shown.length).toBeGreaterThan(10);
    });

    await step(tab, 'filter by type', async () => {
      await page.locator(aria('Event types')).fill(TOGGLED);
      await page.locator(aria('Apply filters', 'button')).click();
      const toggles = await apiIds({ types: [TOGGLED] });
      expect(toggles).toHaveLength(2);
      await showsExactly(tab, toggles);
      const types = await page.$$eval('[data-event-log] tbody[data-event-id]', (rows: any[]) => rows.map((row) => row.getAttribute('data-event-type')));
      expect(new Set(types)).toEqual(new Set([TOGGLED]));
    });

    await step(tab, 'and by plan', async () => {
      await page.waitForSelector(`select option[value="${alpha.planId}"]`);
      await page.locator(aria('Plan', 'combobox')).fill(alpha.planId);
      await page.locator(aria('Apply filters', 'button')).click();
      const ids = await apiIds({ types: [TOGGLED], planId: alpha.planId });
      expect(ids).toHaveLength(1);
      await showsExactly(tab, ids);
      const row = await page.$eval(`tbody[data-event-id="${ids[0]}"] tr`, (element: any) => element.textContent as string);
      expect(row).toContain('Plan alpha nightly');
      expect(row).toContain('Credential alpha-bot1');
      expect(row).toContain('(ADMIN)');
    });

    const hash = await page.evaluate(() => document.location.hash as string);
    expect(hash).toContain(`types=${TOGGLED}`);
    expect(hash).toContain(`planId=${alpha.planId}`);
    expect(page.url()).not.toContain(api.rootToken);

    await step(tab, 'live', async () => {
      const before = await rowIds(tab);
      // Another plan's change is not the filter's; this plan's arrives over the socket, once.
      await toggle(beta, 1, true);
      await toggle(alpha, 1, true);
      const ids = await apiIds({ types: [TOGGLED], planId: alpha.planId });
      expect(ids).toEqual([...before, ids.at(-1)]);
      await showsExactly(tab, ids);
      await page.waitForSelector('[data-live="live"]');
      const added = `tbody[data-event-id="${ids.at(-1)}"]`;
      expect(await page.$eval(added, (element: any) => element.textContent as string)).toContain('Credential alpha-bot2');
      await page.locator(`${added} button[aria-expanded="false"]`).click();
      await page.waitForSelector(`${added} [data-event-data]`);
      const data = JSON.parse(await page.$eval(`${added} [data-event-data]`, (element: any) => element.textContent as string));
      expect(data).toMatchObject({ planId: alpha.planId, credentialId: alpha.credentialIds[1], enabled: true });
      expect(await page.$eval(`${added} button`, (element: any) => element.getAttribute('aria-expanded'))).toBe('true');
      expect(await unnamed(tab)).toEqual([]);
      expect(await lowContrast(tab)).toEqual([]);
    });

    await step(tab, 'a shared link', async () => {
      const shared = await signedIn(api.rootToken, `/${hash}`);
      await showsExactly(shared, await apiIds({ types: [TOGGLED], planId: alpha.planId }));
      expect(await shared.page.$eval(aria('Event types'), (input: any) => input.value)).toBe(TOGGLED);
      expect(shared.errors).toEqual([]);
    });
    expect(tab.errors).toEqual([]);
  });

  it("downloads the filter's export as JSONL with the API's events, a bundle, and says why an export is refused", async () => {
    const api = service();
    const tab = await signedIn(await tokenFor('AUDITOR'), `/#/audit/log?types=${TOGGLED}`);
    const page = tab.page;
    await allowDownloads(tab, folder);
    const expected = await apiIds({ types: [TOGGLED] });
    await showsExactly(tab, expected);

    /** Clicks an export button and returns the file it saved. */
    async function exported(label: string): Promise<string> {
      await page.locator(aria(label, 'button')).click();
      const done = await page.waitForSelector('[data-export-done]');
      const [name, size] = await done!.evaluate((element: any) => [element.getAttribute('data-export-done'), Number(element.getAttribute('data-export-size'))]);
      expect(await page.$eval('[data-export-done]', (element: any) => element.textContent as string)).toMatch(/\(\d+(\.\d)? (bytes|KB|MB)\)/);
      return downloaded(folder, name as string, size as number);
    }

    await step(tab, 'jsonl', async () => {
      const file = await exported('Export JSONL');
      expect(file).toMatch(/\.jsonl$/);
      const ids = jsonlIds(await readFile(file, 'utf8'));
      const direct = await fetch(`${origin()}/audit/export?format=jsonl&types=${TOGGLED}`, { headers: { authorization: `Bearer ${api.rootToken}` } });
      expect(direct.status).toBe(200);
      const theirs = jsonlIds(await direct.text());
      expect(ids).toEqual(theirs);
      expect(ids).toEqual(expected);
    });

    await step(tab, 'bundle', async () => {
      const file = await exported('Export verifiable bundle (.tar.gz)');
      expect(file).toMatch(/\.tar\.gz$/);
      const bytes = await readFile(file);
      expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
      const names: string[] = [];
      for await (const entry of readTarGz(file)) {
        names.push(entry.name);
        if (entry.name === 'events.jsonl') {
          let text = '';
          for await (const chunk of entry.body) text += chunk.toString('utf8');
          expect(jsonlIds(text)).toEqual(expected);
        } else {
          for await (const _ of entry.body);
        }
      }
      expect(names.sort()).toEqual(['VERIFY.md', 'digests.jsonl', 'events.jsonl', 'export.json', 'keys.json']);
    });

    await step(tab, 'refused', async () => {
      // A type name the export does not take: the API's own refusal, naming the parameter.
      await page.locator(aria('Event types')).fill('not a type!');
      await page.locator(aria('Apply filters', 'button')).click();
      await page.waitForFunction(() => document.location.hash.includes('types=not'));
      await page.locator(aria('Export CSV', 'button')).click();
      await page.waitForSelector('::-p-text(Export refused: types:)');
      expect(await page.$('[data-export-done]')).toBeNull();
    });
  });

  it('lists the signed digests and keys; an ADMIN creates a digest, an AUDITOR sees no Create button, a VIEWER no audit page', async () => {
    const api = service();
    const admin = await signedIn(api.rootToken, '/#/audit/digests');
    const page = admin.page;
    await step(admin, 'create', async () => {
      await page.waitForSelector(aria('Signing keys', 'heading'));
      const before = (await api.ok(api.rootToken, DIGESTS)).auditDigests.edges.length;
      await page.locator(aria('Create a digest now', 'button')).click();
      await page.waitForFunction((count: number) => document.querySelectorAll('[data-digests] tbody tr').length === count, {}, before + 1);
      const { auditDigests, auditSigningKeys } = await api.ok(api.rootToken, DIGESTS);
      const digest = auditDigests.edges.at(-1).node;
      const row = await page.$eval(`tr[data-digest="${digest.cursor}"]`, (element: any) => element.textContent as string);
      expect(row).toContain(digest.keyId);
      expect(await page.$eval(`tr[data-digest="${digest.cursor}"] [data-digest-events]`, (element: any) => element.textContent)).toBe(
        String(digest.eventCount),
      );
      // The number an export by digest periods names (fromDigest, toDigest).
      expect(await page.$eval(`tr[data-digest="${digest.cursor}"] [data-digest-sequence]`, (element: any) => element.textContent)).toBe(
        String(digest.sequence),
      );
      const active = auditSigningKeys.find((key: { retiredAt: string | null }) => key.retiredAt === null);
      expect(active.keyId).toBe(digest.keyId);
      expect(await page.$eval(`tr[data-key="${active.keyId}"]`, (element: any) => element.textContent as string)).toContain('Active');
      const link = await page.$eval('a[href="/.well-known/backplane-audit-keys.json"]', (element: any) => element.href as string);
      const served = (await (await fetch(link)).json()) as { keys: { keyId: string }[] };
      expect(served.keys.map((key) => key.keyId)).toContain(active.keyId);
      expect(await unnamed(admin)).toEqual([]);
      expect(await lowContrast(admin)).toEqual([]);
    });

    const auditor = await signedIn(await tokenFor('AUDITOR'), '/#/audit/digests');
    await step(auditor, 'auditor', async () => {
      await auditor.page.waitForSelector('[data-digests] tbody tr');
      expect(await auditor.page.$(aria('Create a digest now', 'button'))).toBeNull();
      // The API tokens are an ADMIN's to list: the event log does not ask for them on an AUDITOR's behalf.
      const asked: string[] = [];
      auditor.page.on('request', (request) => {
        if (request.postData()?.includes('apiTokens')) asked.push(request.url());
      });
      await auditor.page.locator(aria('Event log', 'link')).click();
      // Rows come after the page's first requests went out, the tokens' among them if it were asked.
      await auditor.page.waitForSelector('[data-event-log] tbody[data-event-id]');
      expect(asked).toEqual([]);
    });

    const viewer = await signedIn(await tokenFor('VIEWER'), '/#/audit/log');
    await step(viewer, 'viewer', async () => {
      await viewer.page.waitForSelector(aria('Organizations', 'heading'));
      expect(await viewer.page.$(aria('Event log', 'heading'))).toBeNull();
      expect(await viewer.page.$(aria('Audit', 'navigation'))).toBeNull();
    });
    for (const tab of [admin, auditor, viewer]) expect(tab.errors).toEqual([]);
  });

  it('goes on live from where a page that showed nothing was read: an event recorded before the socket opens is shown', async () => {
    const api = service();
    const { createPlan } = await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: alpha.organizationId, name: 'alpha quiet' } });
    const filter = { types: [TOGGLED], planId: createPlan.id };
    const tab = await signedIn(api.rootToken);
    const page = tab.page;
    // The page's read of the log is answered as it was, but only once an event the filter matches
    // has been recorded and read into the history: it lies after the read and before the socket opens.
    let held = false;
    await page.setRequestInterception(true);
    page.on('request', (request) => {
      const body = request.postData() ?? '';
      if (held || request.method() !== 'POST' || !body.includes('auditLog(') || !body.includes(createPlan.id)) return void request.continue();
      held = true;
      void (async () => {
        const answer = await fetch(request.url(), { method: 'POST', headers: request.headers(), body });
        const text = await answer.text();
        await api.ok(api.rootToken, ops.togglePlanCredential, { planId: createPlan.id, credentialId: alpha.credentialIds[0], enabled: true });
        await eventually(async () => expect(await apiIds(filter)).toHaveLength(1), 30_000);
        await request.respond({ status: answer.status, contentType: 'application/json', body: text });
      })();
    });
    await page.evaluate((hash: string) => {
      document.location.hash = hash;
    }, `#/audit/log?types=${TOGGLED}&planId=${createPlan.id}`);
    await showsExactly(
      tab,
      await eventually(async () => {
        const ids = await apiIds(filter);
        expect(held).toBe(true);
        expect(ids).toHaveLength(1);
        return ids;
      }, 30_000),
    );
    await page.waitForSelector('[data-live="live"]');
    expect(tab.errors).toEqual([]);
  });

  it('pages a long log with Load more, then goes on live from the last cursor, each event once', async () => {
    const api = service();
    const credentialId = beta.credentialIds[0];
    // More toggles than a page holds (100).
    for (let index = 0; index < 104; index++) {
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: beta.planId, credentialId, enabled: index % 2 === 1 });
    }
    const filter = { types: [TOGGLED], planId: beta.planId, credentialId };
    const all = await apiIds(filter);
    expect(all.length).toBeGreaterThan(100);
    const tab = await signedIn(api.rootToken, `/#/audit/log?types=${TOGGLED}&planId=${beta.planId}&credentialId=${credentialId}`);
    const page = tab.page;
    await step(tab, 'first page', async () => {
      await showsExactly(tab, all.slice(0, 100));
      expect(await page.$('[data-live="live"]')).toBeNull();
    });
    await step(tab, 'load more, then live', async () => {
      // Recorded between the pages: the next page or the socket brings it, not both.
      // The loop left it on (its last toggle, 103, is odd).
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: beta.planId, credentialId, enabled: false });
      await page.locator(aria('Load more', 'button')).click();
      await showsExactly(tab, await apiIds(filter));
      await page.waitForSelector('[data-live="live"]');
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: beta.planId, credentialId, enabled: true });
      const ids = await apiIds(filter);
      expect(new Set(ids).size).toBe(ids.length);
      await showsExactly(tab, ids);
      expect(await page.$(aria('Load more', 'button'))).toBeNull();
    });
    expect(tab.errors).toEqual([]);
  });
});
