import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { GitLabDouble } from '../support/gitlab-double';
import { gitlabAccount, gitlabGroup } from '../support/gitlab-accounts';
import { buildScenario, ops, secretValue } from '../support/scenario';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

type AuditNode = { id: string; type: string; causationId: string | null; data: Record<string, any> };

async function history(api: TestApi, filter: Record<string, unknown> = {}): Promise<AuditNode[]> {
  const events: AuditNode[] = [];
  let after: string | null = null;
  for (;;) {
    const { auditLog }: { auditLog: { edges: { node: AuditNode }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } } = await api.ok(
      api.rootToken,
      ops.auditLog,
      { filter, first: 500, after },
    );
    events.push(...auditLog.edges.map((edge) => edge.node));
    if (!auditLog.pageInfo.hasNextPage) return events;
    after = auditLog.pageInfo.endCursor;
  }
}

const organizationWithSecrets = 'query($id: ID!) { organization(id: $id) { id password { id fingerprint } credentials { id fingerprint } } }';

for (const store of apiStores) {
  describe(`organizations, credentials, passwords, devices and tokens over HTTP, on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    let localDeviceId: string;
    let passwordId: string;

    // The tenant's history shows what its users see; the store's head also covers events of other tenants.
    // An organization's first repository sync runs in the background: it is let finish first, so
    // that only what the refused request might have written is counted.
    const written = async () => {
      await api.service.app.jobs.idle();
      return { audit: (await history(api)).length, head: await api.service.backplane.store.headPosition() };
    };
    const refused = async (query: string, variables: Record<string, unknown>, code: string, token = api.rootToken) => {
      const before = await written();
      const response = await api.request(token, query, variables);
      expect(response.errors?.[0]?.extensions?.code).toBe(code);
      expect(response.data ?? null).toBeNull();
      expect(await written()).toEqual(before);
      return response.errors![0].message;
    };

    /** Each password entry's secret: the GitLab token of whichever login it is stored for. */
    const secrets = new Map<string, string>();
    /** The group and the login an input names, on the GitLab double (or `gitlab`), the password entry's secret as the login's token. */
    const onGitLab = (input: Record<string, unknown>, gitlab = api.gitlab) => {
      if (typeof input.name === 'string') gitlabGroup(gitlab, input.name.trim().replace(/^\/+|\/+$/g, ''));
      const secret = secrets.get(input.passwordId as string);
      if (typeof input.login === 'string' && secret !== undefined) gitlabAccount(gitlab, input.login.trim(), secret);
    };

    let groups = 0;
    /** An input addOrganization accepts, on a group no other test uses, on the GitLab double; `changes` override it (undefined removes a field). */
    const orgInput = (changes: Record<string, unknown> = {}) => {
      const input: Record<string, unknown> = {
        name: `acme/group-${++groups}`,
        gitlabUrl: api.gitlab.url,
        authMethod: 'TOKEN',
        login: 'acme-admin',
        passwordId,
        repositoriesSync: { times: ['02:00'] },
        defaultDeviceId: localDeviceId,
        ...changes,
      };
      return { input: Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) };
    };
    const add = async (changes: Record<string, unknown> = {}) => {
      const variables = orgInput(changes);
      if (String(variables.input.gitlabUrl).replace(/\/+$/, '') === api.gitlab.url) onGitLab(variables.input);
      return (await api.ok(api.rootToken, ops.addOrganization, variables)).addOrganization;
    };
    /** addCredential, its login's account on the GitLab double first. */
    const addCredential = async (input: { organizationId: string; login: string; passwordId: string }) => {
      onGitLab({ login: input.login, passwordId: input.passwordId });
      return (await api.ok(api.rootToken, ops.addCredential, { input })).addCredential;
    };
    const storeSecret = async (name: string, secret = secretValue(name)) => {
      const { storePassword } = await api.ok(api.rootToken, ops.storePassword, { input: { name, secret } });
      secrets.set(storePassword.id, secret);
      return storePassword;
    };

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage);
      const { devices } = await api.ok(api.rootToken, ops.devices);
      localDeviceId = devices.find((device: any) => device.name === 'local').id;
      passwordId = (await storeSecret('main')).id;
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    describe('addOrganization', () => {
      it('adds a group on GitLab with its main login, both switches off unless asked', async () => {
        const organization = await add({ repositoriesSync: { times: ['14:00', '02:00'] } });
        expect(organization).toMatchObject({
          provider: 'GITLAB',
          gitlabUrl: api.gitlab.url,
          authMethod: 'TOKEN',
          login: 'acme-admin',
          protectGroups: false,
          autoAddNewRepositories: false,
          status: 'ACTIVE',
          version: 0,
          repositoriesSync: { times: ['02:00', '14:00'], intervalMinutes: null },
          defaultDevice: { id: localDeviceId, name: 'local' },
          password: { id: passwordId },
        });
      });

      it('defaults to GitLab on gitlab.com, as the published schema says', async () => {
        const inputType = 'query { __type(name: "AddOrganizationInput") { inputFields { name defaultValue } } }';
        const { __type } = await api.ok(api.rootToken, inputType);
        expect(__type.inputFields).toContainEqual({ name: 'gitlabUrl', defaultValue: '"https://gitlab.com"' });
      });

      it('refuses an organization on a GitLab that does not answer with GITLAB_AUTH_FAILED, and records the attempt', async () => {
        await api.service.app.jobs.idle();
        const before = await history(api, { types: ['GitLabVerificationFailed'] });
        const response = await api.request(api.rootToken, ops.addOrganization, orgInput({ name: 'nowhere/platform', gitlabUrl: 'http://127.0.0.1:1' }));
        expect(response.errors?.[0]?.extensions?.code).toBe('GITLAB_AUTH_FAILED');
        expect(response.errors?.[0]?.message).toMatch(/GitLab at http:\/\/127\.0\.0\.1:1 (did not answer|could not be asked)/);
        expect(response.data ?? null).toBeNull();
        expect((await api.ok(api.rootToken, ops.organizations)).organizations.map((o: any) => o.name)).not.toContain('nowhere/platform');
        const after = await history(api, { types: ['GitLabVerificationFailed'] });
        expect(after).toHaveLength(before.length + 1);
        expect(after.at(-1)!.data).toMatchObject({
          subject: 'ORGANIZATION',
          gitlabUrl: 'http://127.0.0.1:1',
          group: 'nowhere/platform',
          login: 'acme-admin',
          failure: 'UNREACHABLE',
        });
      });

      it('accepts a self-managed GitLab over https without its trailing slash, and plain http only to a loopback address', async () => {
        expect((await add({ gitlabUrl: `${api.gitlab.url}/` })).gitlabUrl).toBe(api.gitlab.url);
        // An https GitLab passes every rule of the URL: only GitLab itself, not there to answer, stops it.
        await api.service.app.jobs.idle();
        const response = await api.request(api.rootToken, ops.addOrganization, orgInput({ gitlabUrl: 'https://127.0.0.1:1/' }));
        expect(response.errors?.[0]?.extensions?.code).toBe('GITLAB_AUTH_FAILED');
        const [attempt] = (await history(api, { types: ['GitLabVerificationFailed'] })).slice(-1);
        expect(attempt.data.gitlabUrl).toBe('https://127.0.0.1:1');
        expect(await refused(ops.addOrganization, orgInput({ gitlabUrl: 'http://gitlab.example.com' }), 'BAD_USER_INPUT')).toMatch(/https/);
      });

      it('takes exactly one of 1 to 24 distinct times or an interval of 15 to 1440 minutes', async () => {
        const times = (count: number) => Array.from({ length: count }, (_, hour) => `${String(hour % 24).padStart(2, '0')}:${hour < 24 ? '00' : '30'}`);
        expect((await add({ repositoriesSync: { times: times(24) } })).repositoriesSync.times).toHaveLength(24);
        expect((await add({ repositoriesSync: { intervalMinutes: 15 } })).repositoriesSync).toEqual({ times: null, intervalMinutes: 15 });
        expect((await add({ repositoriesSync: { intervalMinutes: 1440 } })).repositoriesSync).toEqual({ times: null, intervalMinutes: 1440 });
        for (const repositoriesSync of [
          { times: ['02:00'], intervalMinutes: 60 },
          {},
          { times: [] },
          { times: times(25) },
          { times: ['02:00', '02:00'] },
          { times: ['24:00'] },
          { intervalMinutes: 14 },
          { intervalMinutes: 1441 },
        ]) {
          await refused(ops.addOrganization, orgInput({ repositoriesSync }), 'BAD_USER_INPUT');
        }
      });

      it('refuses SSO on a server without an OAuth application on GitLab, saying what to set', async () => {
        const message = await refused(ops.addOrganization, orgInput({ authMethod: 'SSO', login: undefined, passwordId: undefined }), 'BAD_USER_INPUT');
        expect(message).toMatch(/BACKPLANE_GITLAB_OAUTH_CLIENT_ID/);
        expect(message).toMatch(/TOKEN/);
      });

      it('refuses TOKEN without a login or without a password entry', async () => {
        expect(await refused(ops.addOrganization, orgInput({ login: undefined }), 'BAD_USER_INPUT')).toMatch(/login/);
        expect(await refused(ops.addOrganization, orgInput({ passwordId: undefined }), 'BAD_USER_INPUT')).toMatch(/passwordId/);
      });

      it('answers NOT_FOUND for a device or a password entry the tenant does not have', async () => {
        await refused(ops.addOrganization, orgInput({ defaultDeviceId: UNKNOWN_ID }), 'NOT_FOUND');
        await refused(ops.addOrganization, orgInput({ passwordId: UNKNOWN_ID }), 'NOT_FOUND');
      });

      it('refuses a group already added on the same GitLab whatever its case, and accepts it on another GitLab', async () => {
        const first = await add({ name: 'Initech/Platform' });
        const message = await refused(ops.addOrganization, orgInput({ name: 'initech/PLATFORM' }), 'CONFLICT');
        expect(message.toLowerCase()).toContain('initech/platform');
        expect(message).toContain(first.id);
        const otherGitLab = await GitLabDouble.start();
        try {
          const input = orgInput({ name: 'initech/platform', gitlabUrl: otherGitLab.url }).input;
          onGitLab(input, otherGitLab);
          expect((await api.ok(api.rootToken, ops.addOrganization, { input })).addOrganization.name).toBe('initech/platform');
          await api.service.app.jobs.idle();
        } finally {
          await otherGitLab.close();
        }
      });
    });

    describe('settings, default device and removal', () => {
      it('changes only the settings given, each change a new version', async () => {
        const organization = await add({ repositoriesSync: { times: ['03:00'] } });
        const { updateOrganizationSettings: grouped } = await api.ok(api.rootToken, ops.updateOrganizationSettings, {
          id: organization.id,
          input: { protectGroups: true },
          v: organization.version,
        });
        expect(grouped).toMatchObject({
          version: organization.version + 1,
          protectGroups: true,
          autoAddNewRepositories: false,
          repositoriesSync: { times: ['03:00'], intervalMinutes: null },
        });
        const { updateOrganizationSettings: synced } = await api.ok(api.rootToken, ops.updateOrganizationSettings, {
          id: organization.id,
          input: { repositoriesSync: { intervalMinutes: 60 } },
        });
        expect(synced).toMatchObject({
          version: grouped.version + 1,
          protectGroups: true,
          autoAddNewRepositories: false,
          repositoriesSync: { times: null, intervalMinutes: 60 },
        });

        await refused(ops.updateOrganizationSettings, { id: organization.id, input: { autoAddNewRepositories: true }, v: grouped.version }, 'CONFLICT');
        await refused(ops.updateOrganizationSettings, { id: organization.id, input: { repositoriesSync: { intervalMinutes: 14 } } }, 'BAD_USER_INPUT');
        const { organization: now } = await api.ok(api.rootToken, ops.organization, { id: organization.id });
        expect(now).toMatchObject({ version: synced.version, repositoriesSync: { intervalMinutes: 60 } });
      });

      it('moves the organization to a registered device, and refuses an unknown one', async () => {
        const organization = await add();
        const { registerDevice } = await api.ok(api.rootToken, ops.registerDevice, { name: 'nas' });
        const { changeDefaultDevice } = await api.ok(api.rootToken, ops.changeDefaultDevice, { id: organization.id, deviceId: registerDevice.id });
        expect(changeDefaultDevice.defaultDevice).toEqual({ id: registerDevice.id, name: 'nas' });
        await refused(ops.changeDefaultDevice, { id: organization.id, deviceId: UNKNOWN_ID }, 'NOT_FOUND');
        expect((await api.ok(api.rootToken, ops.organization, { id: organization.id })).organization.defaultDevice).toEqual({ id: registerDevice.id });
      });

      it('removes its plans and credentials with it, each caused by the removal, and is gone afterwards', async () => {
        const s = await buildScenario(api, api.rootToken, 'umbrella');
        const { createPlan: second } = await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: 'umbrella weekly' } });
        expect(await api.ok(api.rootToken, ops.removeOrganization, { id: s.organizationId })).toEqual({ removeOrganization: s.organizationId });

        const [removal] = await history(api, { organizationId: s.organizationId, types: ['OrganizationRemoved'] });
        const caused = (await history(api)).filter((event) => event.causationId === removal.id);
        expect(
          caused
            .filter((event) => event.type === 'PlanDeleted')
            .map((event) => event.data.planId)
            .sort(),
        ).toEqual([s.planId, second.id].sort());
        expect(
          caused
            .filter((event) => event.type === 'CredentialRemoved')
            .map((event) => event.data.credentialId)
            .sort(),
        ).toEqual([...s.credentialIds].sort());

        expect((await api.ok(api.rootToken, ops.organization, { id: s.organizationId })).organization).toBeNull();
        expect((await api.ok(api.rootToken, ops.plan, { id: s.planId })).plan).toBeNull();
        expect((await api.ok(api.rootToken, ops.organizations)).organizations.map((o: any) => o.id)).not.toContain(s.organizationId);
        await refused(ops.removeOrganization, { id: s.organizationId }, 'NOT_FOUND');
        await refused(ops.updateOrganizationSettings, { id: s.organizationId, input: { protectGroups: true } }, 'NOT_FOUND');
        expect((await api.request(api.rootToken, ops.credentials, { organizationId: s.organizationId })).errors?.[0].extensions?.code).toBe('NOT_FOUND');
      });
    });

    describe('addCredential', () => {
      it('refuses a login the organization already has, whatever its case, and its main login; another organization may use it', async () => {
        const organization = await add({ login: 'Boss', passwordId: (await storeSecret('boss')).id });
        const botPassword = (await storeSecret('bot')).id;
        const credential = (input: Record<string, unknown>) => ({ input: { organizationId: organization.id, passwordId: botPassword, ...input } });
        await addCredential({ organizationId: organization.id, passwordId: botPassword, login: 'Backup-Bot' });
        expect(await refused(ops.addCredential, credential({ login: 'backup-bot' }), 'CONFLICT')).toMatch(/backup-bot/);
        expect(await refused(ops.addCredential, credential({ login: 'BOSS' }), 'CONFLICT')).toMatch(/main login/);

        const other = await add();
        expect(await addCredential({ organizationId: other.id, passwordId: botPassword, login: 'backup-bot' })).toMatchObject({
          login: 'backup-bot',
          status: 'ACTIVE',
          organization: { id: other.id },
        });
      });
    });

    describe('passwords', () => {
      it('answers a fingerprint, never the secret: the last four characters of a long secret, dots for a short one', async () => {
        const long = 'glpat-a-long-secret-WXYZ';
        const storePassword = await storeSecret('long', long);
        expect(storePassword.fingerprint).toBe('••••WXYZ');
        // Sixteen characters is where four of them may be shown.
        expect((await storeSecret('fifteen', 'short-secret-15')).fingerprint).toBe('••••');
        expect((await storeSecret('sixteen', 'short-secret-016')).fingerprint).toBe('••••-016');
        const everything = JSON.stringify([storePassword, await api.ok(api.rootToken, ops.passwords), await history(api)]);
        for (const secret of [long, 'short-secret-15', 'short-secret-016']) expect(everything).not.toContain(secret);
      });

      it('a new secret changes the fingerprint of every organization and credential using the entry', async () => {
        // One GitLab account's token: the main login of one organization, a credential of another.
        const shared = await storeSecret('shared');
        const organization = await add({ login: 'shared-bot', passwordId: shared.id });
        const elsewhere = await add();
        const credential = await addCredential({ organizationId: elsewhere.id, login: 'shared-bot', passwordId: shared.id });
        expect(credential.fingerprint).toBe(shared.fingerprint);

        const { changePassword } = await api.ok(api.rootToken, ops.changePassword, { id: shared.id, input: { secret: 'fake-token-replaced-secret-NEW4' } });
        expect(changePassword.fingerprint).toBe('••••NEW4');
        expect((await api.ok(api.rootToken, organizationWithSecrets, { id: organization.id })).organization.password).toEqual({
          id: shared.id,
          fingerprint: '••••NEW4',
        });
        expect((await api.ok(api.rootToken, organizationWithSecrets, { id: elsewhere.id })).organization.credentials).toEqual([
          { id: credential.id, fingerprint: '••••NEW4' },
        ]);
      });

      it('takes a token pasted with a new line or spaces around it, as GitLab receives it', async () => {
        const token = secretValue('pasted');
        const entry = await storeSecret('pasted with a new line', `  ${token}\r\n`);
        // GitLab knows the token itself: fetch sends a header without the white space around it.
        secrets.set(entry.id, token);
        const organization = await add();
        const credential = await addCredential({ organizationId: organization.id, login: 'pasted-bot', passwordId: entry.id });
        expect(credential.login).toBe('pasted-bot');
      });

      it('refuses to delete an entry in use, naming its users, and deletes it once they are gone', async () => {
        const entry = await storeSecret('in use');
        const organization = await add({ name: 'hooli/search', login: 'gavin', passwordId: entry.id });
        const other = await add({ name: 'hooli/ads' });
        const credential = await addCredential({ organizationId: other.id, login: 'gavin', passwordId: entry.id });

        const message = await refused(ops.deletePassword, { id: entry.id }, 'CONFLICT');
        expect(message).toContain('organization hooli/search');
        expect(message).toContain('credential gavin');
        await api.ok(api.rootToken, ops.removeOrganization, { id: organization.id });
        expect(await refused(ops.deletePassword, { id: entry.id }, 'CONFLICT')).not.toContain('hooli/search');

        await api.ok(api.rootToken, ops.removeCredential, { id: credential.id });
        expect(await api.ok(api.rootToken, ops.deletePassword, { id: entry.id })).toEqual({ deletePassword: entry.id });
        expect((await api.ok(api.rootToken, ops.passwords)).passwords.map((p: any) => p.id)).not.toContain(entry.id);
        await refused(ops.deletePassword, { id: entry.id }, 'NOT_FOUND');
      });
    });

    describe('devices, API tokens and tenants', () => {
      it('has the built-in device "local", and refuses a device name already registered', async () => {
        expect((await api.ok(api.rootToken, ops.devices)).devices).toContainEqual({ id: localDeviceId, name: 'local', builtIn: true });
        await api.ok(api.rootToken, ops.registerDevice, { name: 'backup-box' });
        expect(await refused(ops.registerDevice, { name: 'backup-box' }, 'CONFLICT')).toMatch(/backup-box/);
        await refused(ops.registerDevice, { name: 'local' }, 'CONFLICT');
      });

      it('issues API tokens that work until revoked', async () => {
        const { createApiToken } = await api.ok(api.rootToken, ops.createApiToken, { name: 'ci', role: 'OPERATOR' });
        const { me } = await api.ok(createApiToken.token, ops.me);
        expect(me).toMatchObject({ id: createApiToken.principal.id, name: 'ci', role: 'OPERATOR', root: false, tenant: { id: 'default' } });

        const { revokeApiToken } = await api.ok(api.rootToken, ops.revokeApiToken, { id: me.id });
        expect(revokeApiToken.revokedAt).not.toBeNull();
        expect((await api.request(createApiToken.token, ops.me)).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
        expect((await api.request(createApiToken.token, ops.registerDevice, { name: 'after revocation' })).errors?.[0].extensions?.code).toBe(
          'UNAUTHENTICATED',
        );
      });

      it('lets the root administrator create a tenant with its own ADMIN token and device "local"', async () => {
        const { createTenant } = await api.ok(api.rootToken, ops.createTenant, { name: 'Globex' });
        expect(createTenant.principal).toMatchObject({ role: 'ADMIN', root: false, tenant: { name: 'Globex' } });
        const { me } = await api.ok(createTenant.token, ops.me);
        expect(me).toMatchObject({ role: 'ADMIN', tenant: { id: createTenant.principal.tenant.id } });
        expect(me.tenant.id).not.toBe('default');
        expect((await api.ok(createTenant.token, ops.devices)).devices).toEqual([expect.objectContaining({ name: 'local', builtIn: true })]);
        expect((await api.ok(createTenant.token, ops.organizations)).organizations).toEqual([]);
        await refused(ops.createTenant, { name: 'Not by a tenant admin' }, 'FORBIDDEN', createTenant.token);
      });
    });
  });
}
