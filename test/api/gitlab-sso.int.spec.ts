import { inspect } from 'node:util';
import { revealPassword } from '../../src/app/verification';
import type { Logger } from '../../src/core/logger';
import { parseTokensSecret } from '../../src/gitlab/oauth';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { GitLabDouble } from '../support/gitlab-double';
import { ops } from '../support/scenario';

const CLIENT_ID = 'backplane-sso-app';
const CLIENT_SECRET = `gloas-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;

const addOrganization = `mutation($input: AddOrganizationInput!) { addOrganization(input: $input) {
  id name authMethod login passwordId status authorizationUrl } }`;
const organization = `query($id: ID!) { organization(id: $id) {
  id login status authorizationUrl gitlabGroupId password { id name fingerprint } token { scopes expiresAt failure problem verifiedAt } } }`;
const authorizeOrganization = 'mutation($id: ID!) { authorizeOrganization(id: $id) { id status authorizationUrl } }';
const verifyOrganization = 'mutation($id: ID!) { verifyOrganization(id: $id) { id token { failure problem scopes } } }';
const history = 'query($filter: AuditFilter) { auditLog(filter: $filter, first: 500) { edges { node { type actor { id name } data } } } }';

function capturingLogger(lines: string[]): Logger {
  const keep = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push(`${level} ${message} ${inspect(fields ?? {}, { depth: 20, breakLength: Infinity })}`);
  };
  return { info: keep('info'), warn: keep('warn'), error: keep('error') };
}

for (const store of apiStores) {
  describe(`organizations with SSO (GitLab OAuth 2 with PKCE), on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    let gitlab: GitLabDouble;
    let deviceId: string;
    let tenantId: string;
    let rootTokenId: string;
    let groups = 0;
    const logLines: string[] = [];
    /** Every token GitLab issued that Backplane kept, for the scan at the end. */
    const issued = new Set<string>();

    const callbackBase = () => `${new URL(api.url).origin}/oauth/gitlab/callback`;
    const head = () => api.service.backplane.store.headPosition();
    const tokenRequests = () => api.gitlab.requests.filter((request) => request.path === '/oauth/token').length;

    /** A group on the double that sso-admin sees, with two projects. */
    const ssoInput = (changes: Record<string, unknown> = {}) => {
      const name = `sso-group-${++groups}`;
      api.gitlab.addGroup(name, { members: ['sso-admin'] });
      api.gitlab.addProject(name, 'one');
      api.gitlab.addProject(name, 'two');
      return {
        input: { name, gitlabUrl: api.gitlab.url, authMethod: 'SSO', repositoriesSync: { intervalMinutes: 1440 }, defaultDeviceId: deviceId, ...changes },
      };
    };
    const addPending = async (changes: Record<string, unknown> = {}) => (await api.ok(api.rootToken, addOrganization, ssoInput(changes))).addOrganization;
    /** The browser: to GitLab, signed in, which sends it back with a code; returns where it was sent. */
    const signIn = async (authorizationUrl: string): Promise<string> => {
      const atGitLab = await fetch(authorizationUrl, { redirect: 'manual' });
      expect(atGitLab.status).toBe(302);
      return atGitLab.headers.get('location')!;
    };
    const visit = async (url: string) => {
      const response = await fetch(url, { redirect: 'manual' });
      return { status: response.status, text: await response.text() };
    };
    const view = async (id: string) => (await api.ok(api.rootToken, organization, { id })).organization;
    const keptTokens = async (passwordId: string) => {
      const tokens = parseTokensSecret(await revealPassword(api.service.app, tenantId, passwordId))!;
      issued.add(tokens.accessToken);
      issued.add(tokens.refreshToken);
      return tokens;
    };
    const authorized = async () => {
      const pending = await addPending();
      const outcome = await visit(await signIn(pending.authorizationUrl));
      expect(outcome.status).toBe(200);
      await api.service.app.jobs.idle();
      return view(pending.id);
    };

    beforeAll(async () => {
      storage = await testStorage(store);
      gitlab = await GitLabDouble.start();
      api = await startTestApi(storage, {
        logger: capturingLogger(logLines),
        gitlab,
        env: { BACKPLANE_GITLAB_OAUTH_CLIENT_ID: CLIENT_ID, BACKPLANE_GITLAB_OAUTH_CLIENT_SECRET: CLIENT_SECRET, BACKPLANE_GITLAB_OAUTH_URL: gitlab.url },
      });
      // BACKPLANE_PUBLIC_URL unset: the server's own address, known once it listens.
      api.gitlab.addOAuthApplication(CLIENT_ID, CLIENT_SECRET, callbackBase());
      api.gitlab.addUser('sso-admin');
      api.gitlab.addUser('outsider');
      api.gitlab.signInAs('sso-admin');
      deviceId = (await api.ok(api.rootToken, ops.devices)).devices.find((device: { name: string }) => device.name === 'local').id;
      const me = (await api.ok(api.rootToken, ops.me)).me;
      rootTokenId = me.id;
      tenantId = me.tenant.id;
    });
    afterAll(async () => {
      await api?.close();
      await gitlab?.close();
      await storage?.dispose();
    });

    it('offers SSO on the GitLab the application is registered on only: its secret goes nowhere else', async () => {
      const other = await GitLabDouble.start();
      try {
        const head = await api.service.backplane.store.headPosition();
        const response = await api.request(api.rootToken, addOrganization, ssoInput({ gitlabUrl: other.url }));
        expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        expect(response.errors?.[0]?.message).toMatch(/SSO is set up for the GitLab at .*BACKPLANE_GITLAB_OAUTH_URL.*TOKEN/);
        expect(await api.service.backplane.store.headPosition()).toBe(head);
        expect(other.requests).toEqual([]);
      } finally {
        await other.close();
      }
    });

    it('adds the organization pending, with an authorization URL on its GitLab carrying an S256 challenge, and verifies nothing yet', async () => {
      api.gitlab.resetRequests();
      const pending = await addPending();
      expect(pending).toMatchObject({ authMethod: 'SSO', login: null, passwordId: null, status: 'PENDING_AUTHORIZATION' });
      const url = new URL(pending.authorizationUrl);
      expect(`${url.origin}${url.pathname}`).toBe(`${api.gitlab.url}/oauth/authorize`);
      expect(Object.fromEntries(url.searchParams)).toEqual({
        client_id: CLIENT_ID,
        redirect_uri: callbackBase(),
        response_type: 'code',
        state: expect.stringMatching(/^[A-Za-z0-9_-]{40,}$/),
        scope: 'read_api read_repository',
        code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        code_challenge_method: 'S256',
      });
      expect(api.gitlab.requests).toEqual([]);
      // The URL is the answer of the call that started the sign-in, kept nowhere else.
      expect(await view(pending.id)).toMatchObject({ status: 'PENDING_AUTHORIZATION', authorizationUrl: null, password: null });
    });

    it('applies the input rules as with a token: login, passwordId, group conflict', async () => {
      const taken = ssoInput();
      await api.ok(api.rootToken, addOrganization, taken);
      const same = await api.request(api.rootToken, addOrganization, taken);
      expect(same.errors?.[0]).toMatchObject({ extensions: { code: 'CONFLICT' }, message: expect.stringMatching(/already organization/) });
      const withLogin = await api.request(api.rootToken, addOrganization, ssoInput({ login: 'sso-admin' }));
      expect(withLogin.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(/SSO takes no login/) });
    });

    it('authorizes through the real redirect flow as whoever added it, makes it ACTIVE with the GitLab username as login, and lists its repositories', async () => {
      const pending = await addPending();
      const callback = await signIn(pending.authorizationUrl);
      expect(callback.startsWith(`${callbackBase()}?`)).toBe(true);
      const outcome = await visit(callback);
      expect(outcome).toMatchObject({ status: 200, text: expect.stringContaining('authorized as GitLab user sso-admin') });
      await api.service.app.jobs.idle();

      const active = await view(pending.id);
      expect(active).toMatchObject({
        status: 'ACTIVE',
        login: 'sso-admin',
        authorizationUrl: null,
        token: { scopes: ['read_api', 'read_repository'], expiresAt: null, failure: null },
      });
      expect(active.gitlabGroupId).toEqual(expect.any(Number));
      expect(active.password.name).toBe(`SSO ${pending.name} on ${new URL(api.gitlab.url).host}`);
      await keptTokens(active.password.id);
      await eventually(async () => {
        expect((await api.ok(api.rootToken, ops.repositories, { organizationId: pending.id })).repositories.totalCount).toBe(2);
      });
      // Backplane used the code with its verifier; GitLab's double refuses a wrong or missing one.
      expect(api.gitlab.requests.some((request) => request.path === '/api/v4/user' && request.username === 'sso-admin')).toBe(true);

      const [event] = (await api.ok(api.rootToken, history, { filter: { types: ['OrganizationAuthorized'], organizationId: pending.id } })).auditLog.edges;
      expect(event.node.actor.id).toBe(rootTokenId);
      expect(event.node.data).toMatchObject({ organizationId: pending.id, login: 'sso-admin', passwordId: active.password.id, access: { expiresAt: null } });

      // The same callback again: the state served once, in any process.
      const before = await head();
      expect(await visit(callback)).toMatchObject({ status: 400, text: expect.stringMatching(/unknown, expired or already used/) });
      expect(await head()).toEqual(before);
    });

    it('refuses an unknown state or none, writing nothing', async () => {
      const pending = await addPending();
      const callback = new URL(await signIn(pending.authorizationUrl));
      const before = await head();
      callback.searchParams.set('state', 'not-a-state-backplane-gave');
      expect(await visit(callback.toString())).toMatchObject({ status: 400, text: expect.stringMatching(/unknown, expired or already used/) });
      callback.searchParams.delete('state');
      expect((await visit(callback.toString())).status).toBe(400);
      expect(await head()).toEqual(before);
      expect((await view(pending.id)).status).toBe('PENDING_AUTHORIZATION');
    });

    it('refuses a code GitLab does not know, keeps the organization pending and records why', async () => {
      const pending = await addPending();
      const callback = new URL(await signIn(pending.authorizationUrl));
      callback.searchParams.set('code', 'not-a-code-gitlab-gave');
      const outcome = await visit(callback.toString());
      expect(outcome).toMatchObject({ status: 400, text: expect.stringMatching(/not authorized.*invalid_grant/is) });
      const still = await view(pending.id);
      expect(still).toMatchObject({ status: 'PENDING_AUTHORIZATION', login: null, token: { failure: 'INVALID_GRANT' } });
      const failed = (await api.ok(api.rootToken, history, { filter: { types: ['OrganizationVerificationFailed'], organizationId: pending.id } })).auditLog
        .edges;
      expect(failed).toHaveLength(1);
      expect(failed[0].node.actor.id).toBe(rootTokenId);

      // A new sign-in for it works; the earlier URL no longer does.
      const again = (await api.ok(api.rootToken, authorizeOrganization, { id: pending.id })).authorizeOrganization;
      expect(again.status).toBe('PENDING_AUTHORIZATION');
      expect((await visit(await signIn(again.authorizationUrl))).status).toBe(200);
      await api.service.app.jobs.idle();
      expect(await view(pending.id)).toMatchObject({ status: 'ACTIVE', login: 'sso-admin' });
      const repeat = await api.request(api.rootToken, authorizeOrganization, { id: pending.id });
      expect(repeat.errors?.[0]).toMatchObject({ extensions: { code: 'CONFLICT' }, message: expect.stringMatching(/already authorized/) });
    });

    it('records at most a short, plain sentence of what a callback without a code says', async () => {
      const pending = await addPending();
      const callback = new URL(await signIn(pending.authorizationUrl));
      callback.searchParams.delete('code');
      callback.searchParams.set('error', 'access_denied');
      callback.searchParams.set('error_description', `denied\u001b[31m ${'x'.repeat(5_000)}`);
      expect((await visit(callback.toString())).status).toBe(400);
      const failed = (await api.ok(api.rootToken, history, { filter: { types: ['OrganizationVerificationFailed'], organizationId: pending.id } })).auditLog
        .edges;
      const recorded = JSON.stringify(failed.at(-1).node.data);
      expect(recorded).toMatch(/access_denied: denied/);
      // JSON writes the escape character as \u001b.
      expect(recorded).not.toContain('\\u001b');
      expect(recorded.length).toBeLessThan(800);
    });

    it('records a user who cannot see the group, and stays pending', async () => {
      api.gitlab.signInAs('outsider');
      try {
        const pending = await addPending();
        const outcome = await visit(await signIn(pending.authorizationUrl));
        expect(outcome).toMatchObject({ status: 400, text: expect.stringMatching(/outsider/) });
        expect(await view(pending.id)).toMatchObject({ status: 'PENDING_AUTHORIZATION', token: { failure: 'GROUP_NOT_FOUND' } });
        expect((await api.ok(api.rootToken, ops.passwords)).passwords.some((entry: { name: string }) => entry.name.includes(pending.name))).toBe(false);
      } finally {
        api.gitlab.signInAs('sso-admin');
      }
    });

    it('says a pending organization is pending where a login is needed', async () => {
      const pending = await addPending();
      for (const [query, variables] of [
        [verifyOrganization, { id: pending.id }],
        [ops.syncRepositories, { id: pending.id }],
        [ops.addCredential, { input: { organizationId: pending.id, login: 'helper', passwordId: pending.id } }],
      ] as const) {
        const response = await api.request(api.rootToken, query, variables);
        expect(response.errors?.[0]).toMatchObject({ extensions: { code: 'CONFLICT' }, message: expect.stringMatching(/pending authorization/) });
      }
    });

    it('refreshes the access token when it is about to expire, storing the new pair as Backplane', async () => {
      api.gitlab.setOAuthTokenLifetime(120);
      let active: Awaited<ReturnType<typeof authorized>>;
      try {
        active = await authorized();
      } finally {
        api.gitlab.setOAuthTokenLifetime(7200);
      }
      const before = await keptTokens(active.password.id);
      const fingerprint = (await view(active.id)).password.fingerprint;
      const requests = tokenRequests();

      const verified = (await api.ok(api.rootToken, verifyOrganization, { id: active.id })).verifyOrganization;
      expect(verified.token).toMatchObject({ failure: null, scopes: ['read_api', 'read_repository'] });
      expect(tokenRequests()).toBe(requests + 1);
      const after = await keptTokens(active.password.id);
      expect(after.accessToken).not.toBe(before.accessToken);
      expect(after.refreshToken).not.toBe(before.refreshToken);
      expect((await view(active.id)).password.fingerprint).not.toBe(fingerprint);
      const changes = (await api.ok(api.rootToken, history, { filter: { types: ['PasswordChanged'] } })).auditLog.edges;
      expect(changes.at(-1).node.actor.name).toBe('Backplane');

      // A fresh pair (two hours) is used as it is.
      await api.ok(api.rootToken, ops.syncRepositories, { id: active.id });
      await api.service.app.jobs.idle();
      expect(tokenRequests()).toBe(requests + 1);
    });

    it("refuses the entry holding an organization's authorization as anyone's personal access token", async () => {
      const active = await authorized();
      const other = await GitLabDouble.start();
      try {
        const before = await head();
        const asOrganization = await api.request(api.rootToken, addOrganization, {
          input: {
            name: 'elsewhere/group',
            gitlabUrl: other.url,
            authMethod: 'TOKEN',
            login: 'sso-admin',
            passwordId: active.password.id,
            repositoriesSync: { intervalMinutes: 60 },
            defaultDeviceId: deviceId,
          },
        });
        const asCredential = await api.request(api.rootToken, ops.addCredential, {
          input: { organizationId: active.id, login: 'outsider', passwordId: active.password.id },
        });
        for (const response of [asOrganization, asCredential]) {
          expect(response.errors?.[0]?.extensions?.code).toBe('CONFLICT');
          expect(response.errors?.[0]?.message).toMatch(/holds an SSO organization's authorization/);
        }
        expect(await head()).toBe(before);
        expect(other.requests).toEqual([]);
      } finally {
        await other.close();
      }
    });

    it('goes on with a plan run whose access token GitLab ended mid-run, by taking the refreshed one', async () => {
      // Every pair lives 2 minutes, under the 5 minutes Backplane refreshes ahead: each use refreshes,
      // and GitLab ends the access token a refresh replaces, as it does.
      api.gitlab.setOAuthTokenLifetime(120);
      api.gitlab.setOAuthRevokeOnRefresh(true);
      try {
        const active = await authorized();
        const { repositories } = await api.ok(api.rootToken, ops.repositories, { organizationId: active.id });
        for (const edge of repositories.edges) await api.ok(api.rootToken, 'mutation($id: ID!) { protectRepository(id: $id) { id } }', { id: edge.node.id });
        const { createPlan } = await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: active.id, name: `sso plan ${active.id}` } });
        // The run's first requests wait at GitLab while a verification refreshes the pair under them.
        let held = 0;
        api.gitlab.fault({ match: (request) => request.path.startsWith('/api/v4/projects/') && held++ < 2, delayMs: 1500 });
        const { runPlan } = await api.ok(api.rootToken, 'mutation($planId: ID!) { runPlan(planId: $planId) { id } }', { planId: createPlan.id });
        await eventually(() => expect(held).toBeGreaterThan(0));
        await api.ok(api.rootToken, verifyOrganization, { id: active.id });
        const task = await eventually(async () => {
          const { task } = await api.ok(api.rootToken, 'query($id: ID!) { task(id: $id) { status repositoriesDone repositoriesFailed reason } }', {
            id: runPlan.id,
          });
          expect(task.status).toMatch(/COMPLETED|FAILED/);
          return task;
        }, 20_000);
        expect(task).toMatchObject({ status: 'COMPLETED', repositoriesDone: repositories.edges.length, repositoriesFailed: 0, reason: null });
        // GitLab did refuse the ended token at least once: the run took the new one and went on.
        expect(api.gitlab.requests.some((request) => request.path.startsWith('/api/v4/projects/') && request.status === 401)).toBe(true);
        await keptTokens(active.password.id);
      } finally {
        api.gitlab.clearFaults();
        api.gitlab.setOAuthRevokeOnRefresh(false);
        api.gitlab.setOAuthTokenLifetime(7200);
      }
    });

    it('keeps every token out of the events, the audit answers and the logs', async () => {
      expect(issued.size).toBeGreaterThanOrEqual(4);
      const secrets = [...issued, CLIENT_SECRET];
      const events = JSON.stringify(await api.service.backplane.store.readAll(), (_key, value: unknown) =>
        typeof value === 'bigint' ? value.toString() : value,
      );
      const audit = JSON.stringify(await api.ok(api.rootToken, history, {}));
      for (const secret of secrets) {
        expect(events).not.toContain(secret);
        expect(audit).not.toContain(secret);
        for (const line of logLines) expect(line).not.toContain(secret);
      }
      // The state and verifier are kept only as a digest and a vault secret.
      const rows = JSON.stringify(await api.service.backplane.db.query('SELECT * FROM oauth_authorizations'));
      expect(rows).not.toMatch(/"state"/);
      expect(rows).toMatch(/"state_digest":"[0-9a-f]{64}"/);
    });
  });
}
