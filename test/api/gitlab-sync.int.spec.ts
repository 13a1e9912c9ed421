import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { gitlabAccount, gitlabGroup } from '../support/gitlab-accounts';
import { ops, secretValue } from '../support/scenario';

const repositories = `query($organizationId: ID!, $protected: Boolean, $first: Int, $after: String) {
  repositories(organizationId: $organizationId, protected: $protected, first: $first, after: $after) {
    totalCount edges { cursor node { id gitlabId kind fullPath protected protectedBy { id name } } } pageInfo { hasNextPage endCursor } } }`;
const lastSync =
  'query($id: ID!) { organization(id: $id) { lastSync { id status trigger added removed renamed unchanged requests reason credentialsUsed { credentialId login requests } } } }';
const syncRepositories = 'mutation($id: ID!) { syncRepositories(organizationId: $id) { id status added removed unchanged } }';
const setLicenseSeats = 'mutation($count: Int!) { setLicenseSeats(count: $count) { limit used } }';
const licenseSeats = 'query { licenseSeats { limit used } }';
const protect = 'mutation($id: ID!) { protectRepository(id: $id) { id protected protectedBy { id } } }';
const unprotect = 'mutation($id: ID!) { unprotectRepository(id: $id) { id protected } }';
const history = 'query($filter: AuditFilter) { auditLog(filter: $filter, first: 500) { edges { node { type data } } } }';

type Repo = { id: string; gitlabId: number; kind: string; fullPath: string; protected: boolean; protectedBy: { id: string; name: string } | null };

for (const store of apiStores) {
  describe(`repository-list sync, protection and license seats, on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    let deviceId: string;
    let groups = 0;

    /** An organization on a fresh group of the double, holding `projects` projects (and the subgroup "sub" with one more). */
    const organization = async (projects: number, settings: Record<string, unknown> = {}) => {
      const group = `sync/group-${++groups}`;
      gitlabGroup(api.gitlab, `${group}/sub`);
      for (let index = 0; index < projects; index++) api.gitlab.addProject(group, `p${String(index).padStart(3, '0')}`);
      api.gitlab.addProject(`${group}/sub`, 'deep');
      const secret = secretValue('sync-admin');
      gitlabAccount(api.gitlab, 'sync-admin', secret);
      const { storePassword } = await api.ok(api.rootToken, ops.storePassword, { input: { name: `sync ${groups}`, secret } });
      const { addOrganization } = await api.ok(api.rootToken, ops.addOrganization, {
        input: {
          name: group,
          gitlabUrl: api.gitlab.url,
          authMethod: 'TOKEN',
          login: 'sync-admin',
          passwordId: storePassword.id,
          repositoriesSync: { intervalMinutes: 60 },
          defaultDeviceId: deviceId,
          ...settings,
        },
      });
      return { id: addOrganization.id as string, group };
    };
    const finished = (id: string) =>
      eventually(async () => {
        const sync = (await api.ok(api.rootToken, lastSync, { id })).organization.lastSync;
        expect(sync?.status).toMatch(/COMPLETED|FAILED/);
        return sync;
      });
    const all = async (organizationId: string, filter: Record<string, unknown> = {}): Promise<Repo[]> => {
      const found: Repo[] = [];
      let after: string | null = null;
      for (;;) {
        const page: { edges: { node: Repo }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } = (
          await api.ok(api.rootToken, repositories, { organizationId, first: 40, after, ...filter })
        ).repositories;
        found.push(...page.edges.map((edge) => edge.node));
        if (!page.pageInfo.hasNextPage) return found;
        after = page.pageInfo.endCursor;
      }
    };
    const eventTypes = async (organizationId: string) =>
      (await api.ok(api.rootToken, history, { filter: { organizationId } })).auditLog.edges.map(
        (edge: { node: { type: string } }) => edge.node.type,
      ) as string[];

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage);
      deviceId = (await api.ok(api.rootToken, ops.devices)).devices.find((device: { name: string }) => device.name === 'local').id;
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    it('lists a new organization at once: every project of the group and its subgroups, over several pages', async () => {
      const { id, group } = await organization(130);
      const sync = await finished(id);
      expect(sync).toMatchObject({ status: 'COMPLETED', trigger: 'FIRST', added: 131, removed: 0, renamed: 0, unchanged: 0 });
      expect(sync.requests).toBeGreaterThanOrEqual(2);
      expect(sync.credentialsUsed).toEqual([{ credentialId: null, login: 'sync-admin', requests: sync.requests }]);
      const listed = await all(id);
      expect(listed).toHaveLength(131);
      expect(new Set(listed.map((repository) => repository.gitlabId)).size).toBe(131);
      expect(listed.map((repository) => repository.fullPath)).toContain(`${group}/sub/deep`);
      expect(listed.every((repository) => repository.kind === 'PROJECT' && !repository.protected)).toBe(true);
    });

    it('records renames by GitLab id and removals, and a sync with nothing new changes nothing', async () => {
      const { id, group } = await organization(3);
      await finished(id);
      const before = await all(id);
      const renamed = before.find((repository) => repository.fullPath === `${group}/p000`)!;
      const removed = before.find((repository) => repository.fullPath === `${group}/p001`)!;
      api.gitlab.renameProject(renamed.gitlabId, 'renamed');
      api.gitlab.removeProject(removed.gitlabId);
      const started = (await api.ok(api.rootToken, syncRepositories, { id })).syncRepositories;
      expect(started.status).toBe('RUNNING');
      const sync = await finished(id);
      expect(sync).toMatchObject({ id: started.id, status: 'COMPLETED', trigger: 'MANUAL', added: 0, removed: 1, renamed: 1, unchanged: 2 });
      const after = await all(id);
      expect(after.find((repository) => repository.id === renamed.id)?.fullPath).toBe(`${group}/renamed`);
      expect(after.some((repository) => repository.id === removed.id)).toBe(false);
      expect(await eventTypes(id)).toEqual(expect.arrayContaining(['RepositoryRenamed', 'RepositoryRemovedFromSource', 'RepositoryListSynced']));

      await api.ok(api.rootToken, syncRepositories, { id });
      expect(await finished(id)).toMatchObject({ added: 0, removed: 0, renamed: 0, unchanged: 3 });
    });

    it('records a listing that fails part-way, and removes nothing', async () => {
      const { id } = await organization(120);
      await finished(id);
      api.gitlab.fault({ match: (request) => request.path.endsWith('/projects') && request.query.page === '2', status: 500 });
      try {
        await api.ok(api.rootToken, syncRepositories, { id });
        const sync = await finished(id);
        expect(sync.status).toBe('FAILED');
        expect(sync.reason).toMatch(/could not be read/);
      } finally {
        api.gitlab.clearFaults();
      }
      expect(await all(id)).toHaveLength(121);
      expect(await eventTypes(id)).toContain('RepositoryListSyncFailed');
      expect(await eventTypes(id)).not.toContain('RepositoryRemovedFromSource');
    });

    it('answers a second request while a sync runs with the running sync', async () => {
      const { id } = await organization(2);
      await finished(id);
      api.gitlab.fault({ match: (request) => request.path.endsWith('/projects'), delayMs: 600, times: 1 });
      const [first, second] = await Promise.all([api.ok(api.rootToken, syncRepositories, { id }), api.ok(api.rootToken, syncRepositories, { id })]);
      expect(second.syncRepositories.id).toBe(first.syncRepositories.id);
      await finished(id);
      expect((await eventTypes(id)).filter((type) => type === 'RepositoryListSyncStarted')).toHaveLength(2);
    });

    it('with Protect groups, lists subgroups as protected objects that take no seat', async () => {
      const { id, group } = await organization(1, { protectGroups: true });
      await finished(id);
      const groupsListed = (await all(id)).filter((repository) => repository.kind === 'GROUP');
      expect(groupsListed.map((repository) => repository.fullPath)).toEqual([`${group}/sub`]);
      expect(groupsListed[0].protected).toBe(true);
    });

    it('auto-adds new repositories while license seats last, then records the limit; protection by hand counts too', async () => {
      await api.service.app.jobs.idle();
      const used = (await api.ok(api.rootToken, licenseSeats)).licenseSeats.used;
      expect((await api.ok(api.rootToken, setLicenseSeats, { count: used + 2 })).setLicenseSeats).toEqual({ limit: used + 2, used });
      const { id } = await organization(2, { autoAddNewRepositories: true });
      await finished(id);
      const listed = await all(id);
      expect(listed.filter((repository) => repository.protected)).toHaveLength(2);
      const left = listed.find((repository) => !repository.protected)!;
      expect(await eventTypes(id)).toContain('LicenseSeatLimitReached');
      expect(listed.find((repository) => repository.protected)!.protectedBy).toMatchObject({ name: 'Backplane' });

      const refused = await api.request(api.rootToken, protect, { id: left.id });
      expect(refused.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(refused.errors?.[0]?.message).toMatch(/license seat/);
      const other = listed.find((repository) => repository.protected)!;
      expect((await api.ok(api.rootToken, unprotect, { id: other.id })).unprotectRepository.protected).toBe(false);
      const me = (await api.ok(api.rootToken, ops.me)).me;
      expect((await api.ok(api.rootToken, protect, { id: left.id })).protectRepository).toMatchObject({ protected: true, protectedBy: { id: me.id } });
      expect((await api.ok(api.rootToken, licenseSeats)).licenseSeats).toEqual({ limit: used + 2, used: used + 2 });
      expect((await all(id, { protected: true })).map((repository) => repository.id).sort()).toEqual(
        [left.id, ...listed.filter((r) => r.protected && r.id !== other.id).map((r) => r.id)].sort(),
      );

      const lower = await api.request(api.rootToken, setLicenseSeats, { count: used + 1 });
      expect(lower.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    });
  });
}

describe('the sync schedule', () => {
  let storage: TestStorage;
  let api: TestApi;
  let skew = 0;
  beforeAll(async () => {
    storage = await testStorage('pglite');
    api = await startTestApi(storage, { env: { BACKPLANE_SYNC_CHECK_MS: '50' }, service: { scheduleClock: () => new Date(Date.now() + skew) } });
  });
  afterAll(async () => {
    await api?.close();
    await storage?.dispose();
  });

  it('syncs an organization once per slot, however often the schedule is looked at', async () => {
    const deviceId = (await api.ok(api.rootToken, ops.devices)).devices.find((device: { name: string }) => device.name === 'local').id;
    gitlabGroup(api.gitlab, 'scheduled/group');
    api.gitlab.addProject('scheduled/group', 'one');
    const secret = secretValue('scheduled-admin');
    gitlabAccount(api.gitlab, 'scheduled-admin', secret);
    const { storePassword } = await api.ok(api.rootToken, ops.storePassword, { input: { name: 'scheduled', secret } });
    const { addOrganization } = await api.ok(api.rootToken, ops.addOrganization, {
      input: {
        name: 'scheduled/group',
        gitlabUrl: api.gitlab.url,
        authMethod: 'TOKEN',
        login: 'scheduled-admin',
        passwordId: storePassword.id,
        repositoriesSync: { intervalMinutes: 15 },
        defaultDeviceId: deviceId,
      },
    });
    // Twenty looks at the schedule later, the first sync is still the only one: the next is due in 15 minutes.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await api.service.app.jobs.idle();
    const triggers = async () =>
      (await api.ok(api.rootToken, history, { filter: { organizationId: addOrganization.id, types: ['RepositoryListSyncStarted'] } })).auditLog.edges.map(
        (edge: { node: { data: { trigger: string } } }) => edge.node.data.trigger,
      );
    expect(await triggers()).toEqual(['FIRST']);

    // An hour later (four slots missed while nothing looked), one sync covers them all.
    skew = 60 * 60_000;
    await eventually(async () => expect(await triggers()).toEqual(['FIRST', 'SCHEDULE']));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await api.service.app.jobs.idle();
    expect(await triggers()).toEqual(['FIRST', 'SCHEDULE']);
  });
});
