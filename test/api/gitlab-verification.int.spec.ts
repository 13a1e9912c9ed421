import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { gitlabAccount, gitlabGroup } from '../support/gitlab-accounts';
import { ops, secretValue } from '../support/scenario';

const addOrganization = `mutation($input: AddOrganizationInput!) { addOrganization(input: $input) {
  id name gitlabGroupId token { scopes expiresAt verifiedAt failure problem } } }`;
const addCredential = `mutation($input: AddCredentialInput!) { addCredential(input: $input) {
  id login status token { scopes expiresAt failure problem } } }`;
const verifyCredential = 'mutation($id: ID!) { verifyCredential(id: $id) { id status token { failure problem verifiedAt } } }';
const verifyOrganization = 'mutation($id: ID!) { verifyOrganization(id: $id) { id token { failure problem scopes } } }';
const history = 'query($filter: AuditFilter) { auditLog(filter: $filter, first: 500) { edges { node { type actor { id } data } } } }';

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

for (const store of apiStores) {
  describe(`GitLab verification of organizations and credentials, on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    let deviceId: string;
    let rootTokenId: string;
    let groups = 0;

    /** A password entry holding `secret`, which the double knows as `login`'s token unless told otherwise. */
    const account = async (login: string, options: { scopes?: string[]; expiresAt?: string | null; known?: boolean } = {}) => {
      const secret = secretValue(login);
      if (options.known !== false) gitlabAccount(api.gitlab, login, secret, options);
      const { storePassword } = await api.ok(api.rootToken, ops.storePassword, { input: { name: `${login}-${Math.random()}`, secret } });
      return { passwordId: storePassword.id as string, secret };
    };
    const organizationInput = (passwordId: string, changes: Record<string, unknown> = {}) => {
      const name = `verify/group-${++groups}`;
      gitlabGroup(api.gitlab, name);
      return {
        input: {
          name,
          gitlabUrl: api.gitlab.url,
          authMethod: 'TOKEN',
          login: 'verify-admin',
          passwordId,
          repositoriesSync: { intervalMinutes: 1440 },
          defaultDeviceId: deviceId,
          ...changes,
        },
      };
    };
    const failedAttempts = async () =>
      (
        (await api.ok(api.rootToken, history, { filter: { types: ['GitLabVerificationFailed'] } })).auditLog.edges as {
          node: { actor: { id: string }; data: Record<string, unknown> };
        }[]
      ).map((edge) => edge.node);
    const organizationCount = async () => (await api.ok(api.rootToken, ops.organizations)).organizations.length as number;

    /** The refusal, after checking that it created nothing and recorded the attempt with its actor. */
    const refusedOrganization = async (variables: Record<string, unknown>) => {
      const [organizationsBefore, attemptsBefore] = [await organizationCount(), (await failedAttempts()).length];
      const response = await api.request(api.rootToken, addOrganization, variables);
      expect(response.errors?.[0]?.extensions?.code).toBe('GITLAB_AUTH_FAILED');
      expect(await organizationCount()).toBe(organizationsBefore);
      const attempts = await failedAttempts();
      expect(attempts).toHaveLength(attemptsBefore + 1);
      expect(attempts.at(-1)!.actor.id).toBe(rootTokenId);
      expect(attempts.at(-1)!.data).toMatchObject({ subject: 'ORGANIZATION', login: (variables.input as { login: string }).login });
      return response.errors![0].message;
    };

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage);
      deviceId = (await api.ok(api.rootToken, ops.devices)).devices.find((device: { name: string }) => device.name === 'local').id;
      rootTokenId = (await api.ok(api.rootToken, ops.me)).me.id;
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    it('records what the verified token can do and the group it found, never the token', async () => {
      const { passwordId, secret } = await account('verify-admin', { scopes: ['read_repository', 'read_api'], expiresAt: inDays(90) });
      const { addOrganization: organization } = await api.ok(api.rootToken, addOrganization, organizationInput(passwordId));
      expect(organization.token).toMatchObject({ scopes: ['read_api', 'read_repository'], expiresAt: inDays(90), failure: null, problem: null });
      expect(organization.token.verifiedAt).not.toBeNull();
      expect(organization.gitlabGroupId).toEqual(expect.any(Number));
      const paths = api.gitlab.requests.map((request) => request.path);
      expect(paths).toEqual(
        expect.arrayContaining(['/api/v4/personal_access_tokens/self', '/api/v4/user', `/api/v4/groups/${encodeURIComponent(organization.name)}`]),
      );
      const [added] = (await api.ok(api.rootToken, history, { filter: { types: ['OrganizationAdded'], organizationId: organization.id } })).auditLog.edges;
      expect(added.node.data.access).toMatchObject({ scopes: ['read_api', 'read_repository'], expiresAt: inDays(90) });
      expect(JSON.stringify(added)).not.toContain(secret);
    });

    it.each<[string, { scopes?: string[]; expiresAt?: string | null; revoke?: boolean; known?: boolean; login?: string; group?: string }, RegExp]>([
      ['an unknown token', { known: false }, /invalid or revoked/],
      ['a revoked token', { revoke: true }, /invalid or revoked/],
      ['an expired token', { expiresAt: inDays(-1) }, /expired/],
      ['a token without read_repository, naming it', { scopes: ['read_api'] }, /read_repository/],
      ["another user's token", { login: 'someone-else' }, /belongs to GitLab user verify-admin, not someone-else/],
      ['a group the token cannot see', { group: 'verify/nowhere' }, /verify\/nowhere/],
    ])('refuses %s with GITLAB_AUTH_FAILED, creates nothing and keeps the attempt', async (_name, setup, reason) => {
      const { passwordId, secret } = await account('verify-admin', { scopes: setup.scopes, expiresAt: setup.expiresAt, known: setup.known });
      if (setup.revoke) api.gitlab.revokeToken(secret);
      const variables = organizationInput(passwordId, { ...(setup.login && { login: setup.login }), ...(setup.group && { name: setup.group }) });
      const message = await refusedOrganization(variables);
      expect(message).toMatch(reason);
      expect(message).not.toContain(secret);
    });

    it('refuses when GitLab does not answer, saying so', async () => {
      const { passwordId } = await account('verify-admin');
      const message = await refusedOrganization(organizationInput(passwordId, { gitlabUrl: 'http://127.0.0.1:1' }));
      expect(message).toMatch(/did not answer|unreachable|could not be reached/i);
    });

    it('refuses bad input before asking GitLab, writing nothing', async () => {
      const { passwordId } = await account('verify-admin');
      await api.service.app.jobs.idle();
      api.gitlab.resetRequests();
      const head = await api.service.backplane.store.headPosition();
      const response = await api.request(api.rootToken, addOrganization, organizationInput(passwordId, { repositoriesSync: { intervalMinutes: 5 } }));
      expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(api.gitlab.requests).toEqual([]);
      expect(await api.service.backplane.store.headPosition()).toBe(head);
    });

    describe('credentials', () => {
      let organizationId: string;
      beforeAll(async () => {
        const { passwordId } = await account('verify-admin');
        organizationId = (await api.ok(api.rootToken, addOrganization, organizationInput(passwordId))).addOrganization.id;
      });

      it('adds a verified credential as ACTIVE, and EXPIRING when its token has under 14 days left', async () => {
        const fresh = await account('verify-bot-a', { expiresAt: inDays(200) });
        const expiring = await account('verify-bot-b', { expiresAt: inDays(5) });
        const a = (await api.ok(api.rootToken, addCredential, { input: { organizationId, login: 'verify-bot-a', passwordId: fresh.passwordId } }))
          .addCredential;
        const b = (await api.ok(api.rootToken, addCredential, { input: { organizationId, login: 'verify-bot-b', passwordId: expiring.passwordId } }))
          .addCredential;
        expect(a).toMatchObject({ status: 'ACTIVE', token: { expiresAt: inDays(200), scopes: ['read_api', 'read_repository'] } });
        expect(b).toMatchObject({ status: 'EXPIRING', token: { expiresAt: inDays(5) } });
      });

      it('refuses a credential GitLab refuses, creating nothing, and records the attempt for the organization', async () => {
        const { passwordId, secret } = await account('verify-bot-c', { scopes: ['read_repository'] });
        const before = (await api.ok(api.rootToken, ops.credentials, { organizationId })).credentials.length;
        const response = await api.request(api.rootToken, addCredential, { input: { organizationId, login: 'verify-bot-c', passwordId } });
        expect(response.errors?.[0]?.extensions?.code).toBe('GITLAB_AUTH_FAILED');
        expect(response.errors?.[0]?.message).toMatch(/read_api/);
        expect((await api.ok(api.rootToken, ops.credentials, { organizationId })).credentials).toHaveLength(before);
        const attempt = (await failedAttempts()).at(-1)!;
        expect(attempt.data).toMatchObject({ subject: 'CREDENTIAL', organizationId, login: 'verify-bot-c', failure: 'MISSING_SCOPES' });
        expect(JSON.stringify(attempt)).not.toContain(secret);
      });

      it('verifyCredential shows REVOKED once GitLab refuses the token, and ACTIVE again with a new one', async () => {
        const { passwordId, secret } = await account('verify-bot-d');
        const { id } = (await api.ok(api.rootToken, addCredential, { input: { organizationId, login: 'verify-bot-d', passwordId } })).addCredential;
        api.gitlab.revokeToken(secret);
        const revoked = (await api.ok(api.rootToken, verifyCredential, { id })).verifyCredential;
        expect(revoked).toMatchObject({ status: 'REVOKED', token: { failure: 'INVALID_TOKEN' } });
        expect(revoked.token.problem).toMatch(/invalid or revoked/);
        const renewed = secretValue('verify-bot-d-new');
        api.gitlab.addToken('verify-bot-d', { token: renewed, scopes: ['api'] });
        await api.ok(api.rootToken, ops.changePassword, { id: passwordId, input: { secret: renewed } });
        expect((await api.ok(api.rootToken, verifyCredential, { id })).verifyCredential).toMatchObject({ status: 'ACTIVE', token: { failure: null } });
        const types = (await api.ok(api.rootToken, history, { filter: { credentialId: id } })).auditLog.edges.map(
          (edge: { node: { type: string } }) => edge.node.type,
        );
        expect(types).toEqual(['CredentialAdded', 'CredentialVerificationFailed', 'CredentialVerified']);
      });

      it('verifyOrganization records the outcome on the organization', async () => {
        const { passwordId } = await account('verify-admin', { scopes: ['api'] });
        const { id } = (await api.ok(api.rootToken, addOrganization, organizationInput(passwordId))).addOrganization;
        api.gitlab.setRateLimit(null);
        expect((await api.ok(api.rootToken, verifyOrganization, { id })).verifyOrganization.token).toMatchObject({ failure: null, scopes: ['api'] });
      });
    });
  });
}
