import { gitlabAccount, gitlabGroup } from '../support/gitlab-accounts';
import { ops, secretValue } from '../support/scenario';
import { startTestApi, testStorage } from '../support/api-server';
import { GitLabDouble } from '../support/gitlab-double';
import { step, type Tab } from './chromium';
import { aria, lowContrast, unnamed, useConsole } from './console-session';

// Evaluated inside the page, where the DOM is; the test's own lib has none.
declare const document: any;
declare const sessionStorage: any;
declare const localStorage: any;
declare const getComputedStyle: any;

describe('the console in Chromium', () => {
  const { service, origin, open, signedIn, tokenFor } = useConsole();

  const navLinks = (tab: Tab) => tab.page.$$eval('nav[aria-label="Main"] a', (links: any[]) => links.map((link) => link.textContent as string));
  const text = (tab: Tab, selector: string) => tab.page.$eval(selector, (element: any) => element.textContent as string);
  const visit = (tab: Tab, hash: string) => tab.page.evaluate((value: string) => (document.location.hash = value), hash);

  it('serves the page with a strict policy, and keeps the token in the tab only', async () => {
    const response = await fetch(`${origin()}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(response.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    const asset = await fetch(`${origin()}/console/app.js`, { headers: { 'accept-encoding': 'br' } });
    expect(asset.headers.get('content-encoding')).toBe('br');

    // A wrong token: the API's own refusal, and nothing kept.
    const refused = await open(`${origin()}/`);
    const wrong = 'bpk_not-a-token-of-this-server';
    const refusal = (await service().request(wrong, ops.me)).errors?.[0];
    expect(refusal?.extensions?.code).toBe('UNAUTHENTICATED');
    await refused.page.locator(aria('API token')).fill(wrong);
    await refused.page.keyboard.press('Enter');
    await refused.page.waitForFunction((message: string) => document.querySelector('[role="alert"]')?.textContent === message, {}, refusal!.message);
    expect(await refused.page.evaluate(() => JSON.stringify(sessionStorage))).not.toContain(wrong);
    expect(await refused.page.$('nav[aria-label="Main"]')).toBeNull();

    const tab = await signedIn(service().rootToken);
    expect(await navLinks(tab)).toEqual(['Organizations', 'Plans', 'Audit']);
    expect(await tab.page.evaluate(() => Object.values(sessionStorage) as string[])).toContain(service().rootToken);
    expect(await tab.page.evaluate(() => JSON.stringify(localStorage))).not.toContain(service().rootToken);
    expect(tab.page.url()).not.toContain(service().rootToken);
    await tab.page.locator(aria('Sign out', 'button')).click();
    await tab.page.waitForSelector('#signin-token');
    expect(await tab.page.evaluate(() => Object.values(sessionStorage) as string[])).not.toContain(service().rootToken);
    expect(tab.errors).toEqual([]);
    expect(tab.requests.filter((url) => !url.startsWith(origin()) && !url.startsWith('data:'))).toEqual([]);
  });

  it('adds an organization, two credentials and a plan, and one Save switches the credentials on under one correlation id', async () => {
    const api = service();
    const secrets = { main: secretValue('console-main'), bot1: secretValue('console-bot1'), bot2: secretValue('console-bot2') };
    gitlabGroup(api.gitlab, 'console/platform');
    gitlabAccount(api.gitlab, 'console-admin', secrets.main);
    gitlabAccount(api.gitlab, 'console-bot1', secrets.bot1);
    gitlabAccount(api.gitlab, 'console-bot2', secrets.bot2);
    const { me } = await api.ok(api.rootToken, ops.me);
    const tab = await signedIn(api.rootToken);
    const page = tab.page;

    await step(tab, 'add organization with a refused field', async () => {
      await page.locator(aria('Add organization')).click();
      await page.locator(aria('GitLab URL')).fill(api.gitlab.url);
      await page.locator(aria('Organization (GitLab group path)')).fill('console/platform');
      await page.locator(aria('Register using login and password/token', 'switch')).click();
      await page.locator(aria('Login')).fill('console-admin');
      await page.locator(aria('Add password', 'button')).click();
      await page.locator(aria('Name')).fill('console main token');
      await page.locator(aria('Personal access token')).fill(secrets.main);
      await page.locator(aria('Save password', 'button')).click();
      await page.waitForFunction(() => document.querySelector('[data-field="passwordId"] select').value !== '');
      await page.locator(aria('Protect groups', 'switch')).click();
      await page.locator(aria('At an interval', 'radio')).click();
      await page.locator(aria('Every (minutes, 15 to 1440)')).fill('10');
      await page.locator(aria('Proceed', 'button')).click();
      // The API's own message, next to the field it names.
      await page.waitForSelector('[data-field="repositoriesSync"] [data-field-error]');
      expect(await text(tab, '[data-field="repositoriesSync"] [data-field-error]')).toMatch(/intervalMinutes must be at least 15/);
      expect(await page.$eval(aria('Every (minutes, 15 to 1440)'), (input: any) => input.getAttribute('aria-invalid'))).toBe('true');
      expect((await api.ok(api.rootToken, ops.organizations)).organizations).toEqual([]);
    });

    await step(tab, 'proceed', async () => {
      await page.locator(aria('Every (minutes, 15 to 1440)')).fill('60');
      await page.locator(aria('Proceed', 'button')).click();
      await page.waitForSelector('tr[data-organization="console/platform"]');
      expect(await text(tab, 'tr[data-organization="console/platform"]')).toContain('ACTIVE');
    });

    await step(tab, 'additional credentials', async () => {
      await page.locator('tr[data-organization="console/platform"] a').click();
      await page.waitForSelector(aria('Additional credentials', 'heading'));
      for (const login of ['console-bot1', 'console-bot2'] as const) {
        await page.locator(aria('Add new', 'button')).click();
        await page.locator('form[aria-label="New additional credential"] input[name="login"]').fill(login);
        await page.locator(aria('Add password', 'button')).click();
        await page.locator(aria('Name')).fill(`${login} token`);
        await page.locator(aria('Personal access token')).fill(secrets[login === 'console-bot1' ? 'bot1' : 'bot2']);
        await page.locator(aria('Save password', 'button')).click();
        await page.waitForFunction(() => document.querySelector('form[aria-label="New additional credential"] select').value !== '');
        await page.locator('form[aria-label="New additional credential"] button[type="submit"]').click();
        await page.waitForSelector(`tr[data-credential="${login}"]`);
        expect(await text(tab, `tr[data-credential="${login}"]`)).toContain('ACTIVE');
      }
      const { organizations } = await api.ok(api.rootToken, ops.organizations);
      const { credentials } = await api.ok(api.rootToken, ops.credentials, { organizationId: organizations[0].id });
      expect(credentials.map((credential: { login: string }) => credential.login).sort()).toEqual(['console-bot1', 'console-bot2']);
    });

    const planId = await step(tab, 'create the plan and Save its advanced settings', async () => {
      await page.locator(aria('Plans')).click();
      await page.locator(aria('Add plan')).click();
      await page.locator(aria('Plan name')).fill('console nightly');
      await page.locator(aria('Save', 'button')).click();
      await page.waitForSelector(aria('Edit backup plan', 'heading'));
      const id = decodeURIComponent(page.url().split('#/plans/')[1]!);
      await page.locator(aria('Edit advanced settings', 'button')).click();
      await page.locator(aria('Additional git credentials', 'switch')).click();
      await page.locator(aria('console-bot1', 'switch')).click();
      await page.locator('.advanced + .actions button.primary').click();
      await page.locator('form[aria-label="Edit backup plan"] > .actions button[type="submit"]').click();
      await page.waitForSelector('::-p-text(Plan saved.)');
      return id;
    });

    await step(tab, 'the history', async () => {
      const { auditLog } = await api.ok(api.rootToken, ops.auditLog, { filter: { planId } });
      const events = auditLog.edges.map((edge: any) => edge.node);
      expect(events.map((event: any) => event.type)).toEqual(['PlanCreated', 'PlanAdditionalCredentialsSet', 'PlanCredentialToggled']);
      const saved = events.slice(1);
      expect(new Set(saved.map((event: any) => event.correlationId)).size).toBe(1);
      for (const event of events) expect(event.actor).toMatchObject({ id: me.id, name: me.name, role: 'ADMIN' });
      expect(saved[1].data).toMatchObject({ enabled: true });
      const { plan } = await api.ok(api.rootToken, ops.plan, { id: planId });
      expect(plan.credentials.filter((entry: any) => entry.effective).map((entry: any) => entry.credential.login)).toEqual(['console-bot1']);
    });

    await step(tab, 'the timeline', async () => {
      await page.locator(aria('Audit this plan', 'link')).click();
      await page.waitForSelector('[data-lane="console-bot1"] [data-bar="effective"]');
      expect(await page.$('[data-lane="console-bot2"]')).toBeNull();
      const bar = '[data-lane="console-bot1"] [data-bar="effective"]';
      expect(await page.$eval(bar, (element: any) => element.getAttribute('title'))).toContain(`by ${me.name} (ADMIN)`);
      await page.focus(bar);
      expect(await page.$eval(`${bar} [role="tooltip"]`, (element: any) => getComputedStyle(element).display)).toBe('block');
      await page.locator(aria('Show', 'button')).click();
      await page.waitForSelector('table[data-as-of] tr[data-credential="console-bot1"]');
      expect(await text(tab, 'table[data-as-of] tr[data-credential="console-bot1"]')).toContain('YesYes');
      // The API answers with the credentials switched on at that instant: bot2 never was.
      expect(await page.$('table[data-as-of] tr[data-credential="console-bot2"]')).toBeNull();

      // The event log: one Save's two changes under one correlation id, the same as the API's.
      const rows = await page.$$eval('table[data-events] tbody tr', (found: any[]) =>
        found.map((row) => [...row.querySelectorAll('td')].map((cell: any) => cell.textContent as string)),
      );
      expect(rows.map((cells) => cells[2])).toEqual(['console-bot1 switched on', 'Additional git credentials switched on', 'plan "console nightly" created']);
      const { auditLog } = await api.ok(api.rootToken, ops.auditLog, { filter: { planId, types: ['PlanCredentialToggled'] } });
      expect(rows[0]![3]).toBe(auditLog.edges[0].node.correlationId);
      expect(rows[1]![3]).toBe(rows[0]![3]);
      expect(rows[0]![1]).toBe(`${me.name} (ADMIN)`);
      await page.locator(aria('Verify the log', 'button')).click();
      await page.waitForSelector('::-p-text(Intact:)');
    });
    expect(tab.errors).toEqual([]);
  });

  it('says so when someone else saved the plan first, and writes nothing', async () => {
    const api = service();
    const { plans } = await api.ok(api.rootToken, ops.plans);
    const planId = plans[0].id;
    const tab = await signedIn(api.rootToken);
    await visit(tab, `#/plans/${planId}`);
    const page = tab.page;
    await step(tab, 'stale save', async () => {
      await page.locator(aria('Edit advanced settings', 'button')).click();
      await page.locator(aria('console-bot2', 'switch')).click();
      await page.locator('.advanced + .actions button.primary').click();
      const { plan } = await api.ok(api.rootToken, ops.plan, { id: planId });
      const bot1 = plan.credentials.find((entry: any) => entry.credential.login === 'console-bot1').credential.id;
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId, credentialId: bot1, enabled: false, v: plan.version });
      const before = (await api.ok(api.rootToken, ops.auditLog, { filter: { planId } })).auditLog.edges.length;
      await page.locator('form[aria-label="Edit backup plan"] > .actions button[type="submit"]').click();
      await page.waitForSelector('::-p-text(Someone else saved this first)');
      expect((await api.ok(api.rootToken, ops.auditLog, { filter: { planId } })).auditLog.edges.length).toBe(before);
    });
  });

  it('verifies a credential again, removes one, and the timeline follows a change made elsewhere as it happens', async () => {
    const api = service();
    const { organizations } = await api.ok(api.rootToken, ops.organizations);
    const { plans } = await api.ok(api.rootToken, ops.plans);
    const tab = await signedIn(api.rootToken);
    const page = tab.page;
    page.on('dialog', (dialog) => void dialog.accept());
    await step(tab, 'verify and remove', async () => {
      await visit(tab, `#/organizations/${organizations[0].id}`);
      await page.locator(aria('Verify again console-bot1', 'button')).click();
      await page.waitForSelector('::-p-text(console-bot1: GitLab accepted the token.)');
      await page.locator(aria('Remove console-bot2', 'button')).click();
      await page.waitForSelector('::-p-text(console-bot2 removed.)');
      expect(await page.$('tr[data-credential="console-bot2"]')).toBeNull();
      const { credentials } = await api.ok(api.rootToken, ops.credentials, { organizationId: organizations[0].id });
      expect(credentials.map((credential: { login: string }) => credential.login)).toEqual(['console-bot1']);
    });
    await step(tab, 'live timeline', async () => {
      await visit(tab, `#/audit/${plans[0].id}`);
      await page.waitForSelector('[data-lane="console-bot1"] [data-bar="enabled"]');
      const bars = () => page.$$eval('[data-lane="console-bot1"] [data-bar="enabled"]', (found: any[]) => found.length);
      const before = await bars();
      const { plan } = await api.ok(api.rootToken, ops.plan, { id: plans[0].id });
      const bot1 = plan.credentials.find((entry: any) => entry.credential.login === 'console-bot1');
      expect(bot1.enabled).toBe(false);
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: plan.id, credentialId: bot1.credential.id, enabled: true, v: plan.version });
      await page.waitForFunction(
        (count: number) => document.querySelectorAll('[data-lane="console-bot1"] [data-bar="enabled"]').length === count + 1,
        {},
        before,
      );
    });
    expect(tab.errors).toEqual([]);
  });

  it("saves a plan's storage, schedule and retention, with the API's refusal next to the schedule, and runs it now", async () => {
    const api = service();
    const { plans } = await api.ok(api.rootToken, ops.plans);
    const tab = await signedIn(api.rootToken);
    const page = tab.page;
    await step(tab, 'backup settings', async () => {
      await visit(tab, `#/plans/${plans[0].id}`);
      const form = 'form[aria-label="Backup settings"]';
      await page.locator(`${form} ${aria('At an interval', 'radio')}`).click();
      await page.locator(`${form} ${aria('Every (minutes, 15 to 10080)')}`).fill('5');
      await page.locator(aria('Save backup settings', 'button')).click();
      await page.waitForSelector('[data-field="schedule"] [data-field-error]');
      expect(await text(tab, '[data-field="schedule"] [data-field-error]')).toMatch(/intervalMinutes/);
      await page.locator(`${form} ${aria('At set times of day', 'radio')}`).click();
      await page.locator(`${form} ${aria('Times (HH:MM, UTC, separated by commas)')}`).fill('03:00, 15:30');
      await page.locator(aria('Keep the newest snapshots of each repository')).fill('5');
      await page.locator(aria('Save backup settings', 'button')).click();
      await page.waitForSelector('::-p-text(Backup settings saved.)');
      const { plan } = await api.ok(
        api.rootToken,
        'query($id: ID!) { plan(id: $id) { backupSettings { schedule { times intervalMinutes } keepLast keepDaily } } }',
        {
          id: plans[0].id,
        },
      );
      expect(plan.backupSettings).toEqual({ schedule: { times: ['03:00', '15:30'], intervalMinutes: null }, keepLast: 5, keepDaily: null });
    });
    await step(tab, 'run now', async () => {
      await page.locator(aria('Run now', 'button')).click();
      await page.waitForSelector('tr[data-task][data-status="COMPLETED"]', { timeout: 45_000 });
      const { tasks } = await api.ok(api.rootToken, 'query($planId: ID!) { tasks(planId: $planId) { id status startedBy { name } } }', { planId: plans[0].id });
      expect(tasks).toHaveLength(1);
      expect(tasks[0].status).toBe('COMPLETED');
      expect(await page.$eval('tr[data-task]', (row: any) => row.getAttribute('data-task'))).toBe(tasks[0].id);
      expect(await text(tab, 'tr[data-task]')).toContain(`by ${tasks[0].startedBy.name}`);
    });
    expect(tab.errors).toEqual([]);
  });

  // Longer than the others: a second service, with SSO set up, starts within it.
  it('adds an organization by GitLab sign-in (SSO): GitLab opens in a new tab, and the console comes back to it once authorized', async () => {
    const clientId = 'backplane-console-sso';
    const clientSecret = secretValue('oauth-app');
    const storage = await testStorage('pglite');
    const gitlab = await GitLabDouble.start();
    const sso = await startTestApi(storage, {
      gitlab,
      env: { BACKPLANE_GITLAB_OAUTH_CLIENT_ID: clientId, BACKPLANE_GITLAB_OAUTH_CLIENT_SECRET: clientSecret, BACKPLANE_GITLAB_OAUTH_URL: gitlab.url },
    });
    try {
      const at = new URL(sso.url).origin;
      gitlab.addOAuthApplication(clientId, clientSecret, `${at}/oauth/gitlab/callback`);
      gitlab.addUser('sso-admin');
      gitlab.signInAs('sso-admin');
      gitlab.addGroup('sso-group', { members: ['sso-admin'] });
      const tab = await signedIn(sso.rootToken, '/', at);
      const page = tab.page;
      await step(tab, 'sso', async () => {
        await page.locator(aria('Add organization')).click();
        await page.locator(aria('GitLab URL')).fill(gitlab.url);
        await page.locator(aria('Organization (GitLab group path)')).fill('sso-group');
        expect(await page.$eval(aria('Register using login and password/token', 'switch'), (element: any) => element.getAttribute('aria-checked'))).toBe(
          'false',
        );
        await page.locator(aria('Proceed', 'button')).click();
        await page.locator(aria('Open GitLab sign-in', 'link')).click();
        // GitLab (the double, its user signed in) approves and sends the new tab back to Backplane's callback.
        const callback = await tab.context.waitForTarget((target) => target.url().startsWith(`${at}/oauth/gitlab/callback`));
        const gitlabTab = (await callback.page())!;
        await gitlabTab.waitForFunction(() => document.querySelector('h1')?.textContent === 'Organization authorized');
        await page.bringToFront();
        await page.waitForSelector(aria('Signed in to GitLab', 'heading'));
        const { organizations } = await sso.ok(sso.rootToken, 'query { organizations { name status login authMethod } }');
        expect(organizations).toEqual([{ name: 'sso-group', status: 'ACTIVE', login: 'sso-admin', authMethod: 'SSO' }]);
      });
      expect(tab.errors).toEqual([]);
    } finally {
      await sso.close();
      await gitlab.close();
      await storage.dispose();
    }
  }, 120_000);

  it('shows a VIEWER no Audit page and no edit button, and an AUDITOR the audit but no edit button', async () => {
    const viewer = await signedIn(await tokenFor('VIEWER'));
    await step(viewer, 'viewer', async () => {
      expect(await navLinks(viewer)).toEqual(['Organizations', 'Plans']);
      await viewer.page.waitForSelector('tr[data-organization="console/platform"]');
      expect(await viewer.page.$(aria('Add organization'))).toBeNull();
      await visit(viewer, '#/audit');
      await viewer.page.waitForSelector(aria('Organizations', 'heading'));
      expect(await viewer.page.$(aria('Audit', 'heading'))).toBeNull();
    });

    const auditor = await signedIn(await tokenFor('AUDITOR'));
    await step(auditor, 'auditor', async () => {
      expect(await navLinks(auditor)).toEqual(['Organizations', 'Plans', 'Audit']);
      await auditor.page.locator('tr[data-organization="console/platform"] a').click();
      await auditor.page.waitForSelector('tr[data-credential="console-bot1"]');
      expect(await auditor.page.$(aria('Add new', 'button'))).toBeNull();
      expect(await auditor.page.$('.row-actions')).toBeNull();
      await visit(auditor, '#/plans');
      await auditor.page.locator('tr[data-plan="console nightly"] a').click();
      await auditor.page.waitForSelector(aria('Advanced settings', 'heading'));
      expect(await auditor.page.$(aria('Edit advanced settings', 'button'))).toBeNull();
      expect(await auditor.page.$('form[aria-label="Edit backup plan"] button[type="submit"]')).toBeNull();
      await auditor.page.locator(aria('Audit this plan', 'link')).click();
      await auditor.page.waitForSelector('[data-lane="console-bot1"] [data-bar="enabled"]');
    });
    expect(viewer.errors).toEqual([]);
    expect(auditor.errors).toEqual([]);
  });

  it('names every control, and the keyboard alone signs in, opens a page and flips a switch with a visible focus', async () => {
    const api = service();
    const tab = await open(`${origin()}/`);
    const page = tab.page;
    await step(tab, 'keyboard', async () => {
      // The token field has the focus on arrival: type, Enter.
      await page.keyboard.type(api.rootToken);
      await page.keyboard.press('Enter');
      await page.waitForSelector('nav[aria-label="Main"]');
      const { organizations } = await api.ok(api.rootToken, ops.organizations);
      await visit(tab, `#/organizations/${organizations[0].id}`);
      await page.waitForSelector(aria('Protect groups', 'switch'));
      // Tab from the page's heading to the first switch: every stop on the way is visible and focusable.
      let focused = '';
      for (let presses = 0; presses < 40 && focused !== 'Protect groups'; presses++) {
        await page.keyboard.press('Tab');
        focused = await page.evaluate(() => {
          const element = document.activeElement;
          const label = element.getAttribute('aria-labelledby');
          return label ? document.getElementById(label).textContent : (element.textContent as string);
        });
        expect(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle)).not.toBe('none');
      }
      expect(focused).toBe('Protect groups');
      const before = await page.evaluate(() => document.activeElement.getAttribute('aria-checked'));
      await page.keyboard.press('Space');
      expect(await page.evaluate(() => document.activeElement.getAttribute('aria-checked'))).toBe(before === 'true' ? 'false' : 'true');
    });
    await step(tab, 'names', async () => {
      expect(await unnamed(tab)).toEqual([]);
      expect(await lowContrast(tab)).toEqual([]);
      await visit(tab, '#/organizations/new');
      await page.locator(aria('Register using login and password/token', 'switch')).click();
      await page.locator(aria('Add password', 'button')).click();
      await page.locator(aria('Change default device', 'button')).click();
      expect(await unnamed(tab)).toEqual([]);
      expect(await lowContrast(tab)).toEqual([]);
      const { plans } = await api.ok(api.rootToken, ops.plans);
      await visit(tab, `#/plans/${plans[0].id}`);
      await page.locator(aria('Edit advanced settings', 'button')).click();
      expect(await unnamed(tab)).toEqual([]);
      expect(await lowContrast(tab)).toEqual([]);
      await visit(tab, `#/audit/${plans[0].id}`);
      await page.waitForSelector('[data-bar]');
      expect(await unnamed(tab)).toEqual([]);
      expect(await lowContrast(tab)).toEqual([]);
    });
    expect(tab.errors).toEqual([]);
  });
});
