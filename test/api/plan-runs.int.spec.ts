import { randomUUID } from 'node:crypto';
import { execute } from '../../src/app/deps';
import { systemPrincipal } from '../../src/app/principal';
import { credential, credentialStream } from '../../src/domain/credential';
import { task as taskDecider, taskStream } from '../../src/domain/task';
import { apiStores, listen, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { gitlabGroup } from '../support/gitlab-accounts';
import { buildScenario, ops, protectListedRepositories, type Scenario } from '../support/scenario';

const DEADLINE = 20_000;

const TASK_FIELDS = `id status repositoriesTotal repositoriesDone repositoriesFailed startedAt finishedAt reason version
  plan { id } startedBy { id }
  credentialsUsed { credential { id login } login requests }
  throttledPeriods { from until }`;
const runPlan = `mutation($planId: ID!) { runPlan(planId: $planId) { ${TASK_FIELDS} } }`;
const taskQuery = `query($id: ID!) { task(id: $id) { ${TASK_FIELDS} } }`;
const tasksQuery = 'query($planId: ID!) { tasks(planId: $planId) { id status } }';
const taskProgress = 'subscription($taskId: ID!) { taskProgress(taskId: $taskId) { id status repositoriesDone repositoriesTotal } }';
const repositories = 'query($id: ID!) { repositories(organizationId: $id, first: 500, after: null) { totalCount edges { node { id fullPath protected } } } }';
const protect = 'mutation($id: ID!) { protectRepository(id: $id) { id protected } }';
const credentialsQuery = 'query($id: ID!) { credentials(organizationId: $id) { id login status throttledUntil } }';

interface Counts {
  branches: number;
  tags: number;
  issues: number;
  mergeRequests: number;
}

type Task = {
  id: string;
  status: string;
  repositoriesTotal: number;
  repositoriesDone: number;
  repositoriesFailed: number;
  reason: string | null;
  credentialsUsed: { credential: { id: string; login: string } | null; login: string; requests: number }[];
  throttledPeriods: { from: string; until: string }[];
};

let labels = 0;

for (const store of apiStores) {
  describe(`plan runs over HTTP, graphql-ws and the GitLab double, on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;

    beforeAll(async () => {
      storage = await testStorage(store);
      // Two repositories at a time, so that a slowed GitLab makes a run last long enough to change
      // things during it; 5xx retried for long, so that only the run's own gate ends a retrying request.
      api = await startTestApi(storage, { service: { work: { runConcurrency: 2, runFlushMs: 50 }, gitlab: { maxRetryMs: 30_000 } } });
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    /** An organization of its own (own logins on the double) with these projects, every one protected. */
    async function organizationWith(projects: Counts[]): Promise<{ s: Scenario; label: string; fullPaths: string[] }> {
      const label = `run${++labels}${store}`;
      gitlabGroup(api.gitlab, `${label}/platform`);
      const fullPaths = projects.map((counts, index) => api.gitlab.addProject(`${label}/platform`, `p${index}`, counts).fullPath);
      // Adding the organization lists the group at once.
      const s = await buildScenario(api, api.rootToken, label);
      await protectListedRepositories(api, s.organizationId, projects.length, DEADLINE);
      return { s, label, fullPaths };
    }

    const task = async (id: string): Promise<Task> => (await api.ok(api.rootToken, taskQuery, { id })).task;
    const ended = (id: string, deadline = DEADLINE) =>
      eventually(async () => {
        const current = await task(id);
        expect(['COMPLETED', 'FAILED']).toContain(current.status);
        // The audit history is a read model of its own: what the run recorded shows there a moment
        // after the task's own row, and the tests read it next.
        const { auditLog }: any = await api.ok(api.rootToken, ops.auditLog, { filter: { types: ['BackupTaskCompleted', 'BackupTaskFailed'] }, first: 500 });
        expect(auditLog.edges.map((edge: any) => edge.node.data.taskId)).toContain(id);
        return current;
      }, deadline);
    /** Requests the run made: a sync reads the group, a run reads projects. */
    /** Holds every project request of `username` at GitLab as the fault says; resolves when the first arrives. */
    const holdProjectRequests = (username: string, fault: { delayMs: number; status?: number }): Promise<void> =>
      new Promise<void>((arrived) =>
        api.gitlab.fault({
          match: (request) => {
            if (request.username !== username || !request.path.startsWith('/api/v4/projects/')) return false;
            arrived();
            return true;
          },
          ...fault,
        }),
      );
    /** Requests a run made of GitLab as `username`: the API's project endpoints and git's (mirror fetches). */
    const runRequests = (username: string) =>
      api.gitlab.requests.filter((request) => request.username === username && (request.path.startsWith('/api/v4/projects/') || /\.git\//.test(request.path)));
    const history = async (filter: string | Record<string, string>) => {
      const events: { type: string; data: any; occurredAt: string }[] = [];
      let after: string | null = null;
      for (;;) {
        const { auditLog }: any = await api.ok(api.rootToken, ops.auditLog, {
          filter: typeof filter === 'string' ? { planId: filter } : filter,
          first: 500,
          after,
        });
        events.push(...auditLog.edges.map((edge: any) => edge.node));
        if (!auditLog.pageInfo.hasNextPage) return events;
        after = auditLog.pageInfo.endCursor;
      }
    };

    it('reads every page of every protected repository with the main login and the effective credentials only, and counts what each made', async () => {
      // Branches and tags come from git (these repositories are empty); issues and merge requests from every page of the API.
      const projects: Counts[] = [
        { branches: 0, tags: 0, issues: 120, mergeRequests: 0 },
        { branches: 0, tags: 0, issues: 0, mergeRequests: 101 },
        { branches: 0, tags: 0, issues: 7, mergeRequests: 2 },
        { branches: 0, tags: 0, issues: 100, mergeRequests: 3 },
      ];
      const { s, label, fullPaths } = await organizationWith(projects);
      const { runPlan: started } = await api.ok(api.rootToken, runPlan, { planId: s.planId });
      expect(started).toMatchObject({ status: 'RUNNING', repositoriesTotal: 4, plan: { id: s.planId } });
      const done = await ended(started.id);
      expect(done).toMatchObject({ status: 'COMPLETED', repositoriesDone: 4, repositoriesFailed: 0, reason: null });

      const backedUp = (await history(s.planId)).filter((event) => event.type === 'RepositoryBackedUp').map((event) => event.data);
      expect(Object.fromEntries(backedUp.map((data) => [data.fullPath, data.counts]))).toEqual(
        Object.fromEntries(fullPaths.map((path, index) => [path, projects[index]])),
      );

      const usernames = new Set(
        api.gitlab.requests
          .filter((request) => request.path.startsWith('/api/v4/projects/') && request.username?.startsWith(`${label}-`))
          .map((r) => r.username),
      );
      expect([...usernames].sort()).toEqual([`${label}-admin`, `${label}-bot1`]);
      const used = Object.fromEntries(done.credentialsUsed.map((use) => [use.login, { id: use.credential?.id ?? null, requests: use.requests }]));
      expect(used).toEqual({
        [`${label}-admin`]: { id: null, requests: runRequests(`${label}-admin`).length },
        [`${label}-bot1`]: { id: s.credentialIds[0], requests: runRequests(`${label}-bot1`).length },
      });
      expect(runRequests(`${label}-bot2`)).toEqual([]);
      const { tasks } = await api.ok(api.rootToken, tasksQuery, { planId: s.planId });
      expect(tasks.map((t: any) => t.id)).toEqual([started.id]);
    });

    it('delivers the task over taskProgress as it goes on, until it has completed', async () => {
      const { s, label } = await organizationWith(Array.from({ length: 6 }, () => ({ branches: 2, tags: 0, issues: 0, mergeRequests: 0 })));
      api.gitlab.fault({ match: (request) => request.username?.startsWith(`${label}-`) === true && request.path.startsWith('/api/v4/projects/'), delayMs: 40 });
      try {
        const { runPlan: started } = await api.ok(api.rootToken, runPlan, { planId: s.planId });
        const feed = listen<{ taskProgress: { id: string; status: string; repositoriesDone: number; repositoriesTotal: number } }>(
          api.ws(api.rootToken),
          taskProgress,
          { taskId: started.id },
        );
        await eventually(() => expect(feed.completed).toBe(true), DEADLINE);
        expect(feed.errors).toEqual([]);
        const seen = feed.received.map((item) => item.taskProgress);
        expect(seen.length).toBeGreaterThan(1);
        const done = seen.map((item) => item.repositoriesDone);
        expect(done).toEqual([...done].sort((a, b) => a - b));
        expect(seen.at(-1)).toEqual({ id: started.id, status: 'COMPLETED', repositoriesDone: 6, repositoriesTotal: 6 });
        expect(seen.slice(0, -1).every((item) => item.status !== 'COMPLETED')).toBe(true);
      } finally {
        api.gitlab.clearFaults();
      }
    });

    /** A change, and the event that made it, whose occurredAt (taken before the append) is when it counts from. */
    const midRun = [
      [
        'switched off on the plan',
        async (s: Scenario) => {
          await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[0], enabled: false });
          return (await history(s.planId)).find(
            (event) => event.type === 'PlanCredentialToggled' && event.data.credentialId === s.credentialIds[0] && event.data.enabled === false,
          )!;
        },
      ],
      [
        'removed',
        async (s: Scenario) => {
          await api.ok(api.rootToken, ops.removeCredential, { id: s.credentialIds[0] });
          // Its removal, not the plan's switch-off that follows it: the credential must be out from the removal on.
          return (await history({ credentialId: s.credentialIds[0] })).find((event) => event.type === 'CredentialRemoved')!;
        },
      ],
      [
        'removed, with no plan switching it off',
        // What the log holds between a removal and its plans' switch-offs, or for good when the
        // process stopped in between: the plan still has it on, and only its own stream says it is gone.
        async (s: Scenario) => {
          const { me } = await api.ok(api.rootToken, ops.me);
          const request = { principal: systemPrincipal(me.tenant.id), correlationId: randomUUID() };
          await execute(api.service.app, request, credential, credentialStream(s.credentialIds[0]), {
            type: 'RemoveCredential',
            data: { credentialId: s.credentialIds[0] },
          });
          return (await history({ credentialId: s.credentialIds[0] })).find((event) => event.type === 'CredentialRemoved')!;
        },
      ],
    ] as const;

    it.each(midRun)(
      'makes no request with a credential %s during the run after that change',
      async (_label, change) => {
        const { s, label } = await organizationWith(Array.from({ length: 10 }, () => ({ branches: 150, tags: 1, issues: 1, mergeRequests: 1 })));
        const bot1 = `${label}-bot1`;
        // bot1's answers are held long: its next request comes well after the change, whatever the
        // load, and it is that request's check that must see the change. The run goes on meanwhile
        // with the main login, slowed down so that it lasts.
        const bot1Sent = holdProjectRequests(bot1, { delayMs: 1500 });
        api.gitlab.fault({
          match: (request) => request.username?.startsWith(`${label}-`) === true && request.path.startsWith('/api/v4/projects/'),
          delayMs: 60,
        });
        try {
          const { runPlan: started } = await api.ok(api.rootToken, runPlan, { planId: s.planId });
          await bot1Sent;
          const event = await change(s);
          const changedAt = Date.parse(event.occurredAt);
          // Each of the ten backups makes a dozen requests, every one held 60 ms: room for a loaded machine.
          const done = await ended(started.id, 3 * DEADLINE);
          expect(done).toMatchObject({ status: 'COMPLETED', repositoriesDone: 10, repositoriesFailed: 0 });
          expect(runRequests(bot1).length).toBeGreaterThan(0);
          // The run went on after the change, with the main login alone.
          expect(runRequests(`${label}-admin`).filter((request) => request.at > changedAt).length).toBeGreaterThan(0);
          expect(runRequests(bot1).filter((request) => request.at > changedAt)).toEqual([]);
          expect(done.credentialsUsed.find((use) => use.login === bot1)?.requests).toBe(runRequests(bot1).length);
        } finally {
          api.gitlab.clearFaults();
        }
      },
      150_000,
    );

    it('stops retrying with a credential switched off while GitLab answers it 5xx, and hands the request to the main login', async () => {
      const { s, label } = await organizationWith(Array.from({ length: 4 }, () => ({ branches: 1, tags: 1, issues: 1, mergeRequests: 1 })));
      const bot1 = `${label}-bot1`;
      // Every API request of bot1 fails, after a while: it is retried (for 30 s here, a minute in service).
      const bot1Sent = holdProjectRequests(bot1, { status: 502, delayMs: 1500 });
      try {
        const { runPlan: started } = await api.ok(api.rootToken, runPlan, { planId: s.planId });
        await bot1Sent;
        await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[0], enabled: false });
        // Committed before the answer: an API request that arrives later was checked after the switch.
        // (The event's occurredAt is when the command began: on a loaded machine, requests checked
        // before its commit still arrive after it; and a git fetch handed out before it may start its
        // process, and its first request, a while later.)
        const answeredAt = Date.now();
        const toggled = (await history(s.planId)).find((event) => event.type === 'PlanCredentialToggled' && event.data.enabled === false)!;
        expect(Date.parse(toggled.occurredAt)).toBeLessThanOrEqual(answeredAt);
        const done = await ended(started.id);
        expect(done).toMatchObject({ status: 'COMPLETED', repositoriesDone: 4, repositoriesFailed: 0 });
        // Every API request of bot1 was answered 502 (a mirror fetch it was handed before its first
        // API request, if any, went through: the fault holds the API only).
        const bot1Api = runRequests(bot1).filter((request) => request.path.startsWith('/api/v4/projects/'));
        expect(bot1Api.map((request) => request.status)).toEqual(bot1Api.map(() => 502));
        expect(bot1Api.length).toBeGreaterThan(0);
        expect(bot1Api.filter((request) => request.at > answeredAt)).toEqual([]);
        expect(runRequests(`${label}-admin`).filter((request) => request.at > answeredAt).length).toBeGreaterThan(0);
      } finally {
        api.gitlab.clearFaults();
      }
    });

    it('asks again with the main login when an additional credential is answered 404, and records what the main login read', async () => {
      const { s, label, fullPaths } = await organizationWith([{ branches: 0, tags: 0, issues: 1, mergeRequests: 1 }]);
      const bot1 = `${label}-bot1`;
      // bot1 cannot see this project (not a member of its subgroup, say), by the API or by git; the main login can.
      api.gitlab.fault({
        match: (request) => request.username === bot1 && (request.path.startsWith('/api/v4/projects/') || /\.git\//.test(request.path)),
        status: 404,
      });
      try {
        const { runPlan: started } = await api.ok(api.rootToken, runPlan, { planId: s.planId });
        const done = await ended(started.id);
        expect(done).toMatchObject({ status: 'COMPLETED', repositoriesDone: 1, repositoriesFailed: 0 });
        const [backedUp] = (await history(s.planId)).filter((event) => event.type === 'RepositoryBackedUp').map((event) => event.data);
        expect(backedUp).toMatchObject({ fullPath: fullPaths[0], counts: { branches: 0, tags: 0, issues: 1, mergeRequests: 1 } });
        // The case was met: bot1 was asked, and refused.
        expect(runRequests(bot1).length).toBeGreaterThan(0);
        expect(runRequests(bot1).every((request) => request.status === 404)).toBe(true);
      } finally {
        api.gitlab.clearFaults();
      }
    });

    it('waits out GitLab when every credential is out of quota, and records who was throttled and when', async () => {
      const { s, label } = await organizationWith(Array.from({ length: 2 }, () => ({ branches: 1, tags: 1, issues: 1, mergeRequests: 1 })));
      // A window long enough for spending the quotas and starting the run to fit in it on a busy machine.
      const rule = { limit: 6, windowMs: 8000 };
      const tokens = [s.secrets[0], s.secrets[1]];
      for (const token of tokens) api.gitlab.setRateLimit(rule, token);
      try {
        // Spend both quotas early in a window (at least 5 s before it ends), so that the run meets 429s before it ends.
        await eventually(() => expect(Date.now() % rule.windowMs).toBeLessThan(rule.windowMs / 2 - 1000), 10_000, 5);
        await Promise.all(
          tokens.flatMap((token) =>
            Array.from({ length: rule.limit }, () =>
              fetch(`${api.gitlab.url}/api/v4/user`, { headers: { 'private-token': token } }).then((r) => r.arrayBuffer()),
            ),
          ),
        );
        const { runPlan: started } = await api.ok(api.rootToken, runPlan, { planId: s.planId });
        // A run of two projects makes about twenty API requests: two or three windows of 12.
        const done = await ended(started.id, 3 * DEADLINE);
        expect(done).toMatchObject({ status: 'COMPLETED', repositoriesDone: 2, repositoriesFailed: 0 });
        expect(done.throttledPeriods.length).toBeGreaterThan(0);
        const types = (await history(s.planId)).map((event) => event.type);
        expect(types).toEqual(expect.arrayContaining(['BackupTaskThrottled', 'BackupTaskResumed', 'CredentialThrottled']));
        const throttled = (await history(s.planId)).filter((event) => event.type === 'CredentialThrottled').map((event) => event.data.login);
        expect([...new Set(throttled)].sort()).toEqual([`${label}-admin`, `${label}-bot1`]);
        const { credentials } = await api.ok(api.rootToken, credentialsQuery, { id: s.organizationId });
        const bot1 = credentials.find((c: any) => c.id === s.credentialIds[0]);
        expect(bot1.throttledUntil).not.toBeNull();
        // GitLab counts refused requests too: what the task reports is what GitLab saw.
        for (const use of done.credentialsUsed) expect(use.requests).toBe(runRequests(use.login).length);
        expect(runRequests(`${label}-bot1`).some((request) => request.status === 429)).toBe(true);
      } finally {
        for (const token of tokens) api.gitlab.setRateLimit(null, token);
      }
    }, 150_000);

    it('records a credential GitLab answers 401 as REVOKED and completes with the others', async () => {
      const { s, label } = await organizationWith(Array.from({ length: 3 }, () => ({ branches: 1, tags: 0, issues: 0, mergeRequests: 0 })));
      api.gitlab.revokeToken(s.secrets[1]);
      const { runPlan: started } = await api.ok(api.rootToken, runPlan, { planId: s.planId });
      const done = await ended(started.id);
      expect(done).toMatchObject({ status: 'COMPLETED', repositoriesDone: 3, repositoriesFailed: 0 });
      expect(runRequests(`${label}-bot1`).map((request) => request.status)).toEqual([401]);
      const { credentials } = await api.ok(api.rootToken, credentialsQuery, { id: s.organizationId });
      expect(credentials.find((c: any) => c.id === s.credentialIds[0]).status).toBe('REVOKED');
      const { auditLog } = await api.ok(api.rootToken, ops.auditLog, { filter: { credentialId: s.credentialIds[0] }, first: 500 });
      const failed = auditLog.edges.map((edge: any) => edge.node).filter((event: any) => event.type === 'CredentialVerificationFailed');
      expect(failed.map((event: any) => event.data.reason)).toEqual([`GitLab answered 401 during task ${started.id}`]);
    });

    it("refuses another tenant's plan as NOT_FOUND and writes nothing, and refuses a VIEWER", async () => {
      const { s } = await organizationWith([]);
      const { createTenant } = await api.ok(api.rootToken, ops.createTenant, { name: `other-${store}` });
      const before = (await history(s.planId)).length;
      const foreign = await api.request(createTenant.token, runPlan, { planId: s.planId });
      expect(foreign.errors?.map((error) => error.extensions?.code)).toEqual(['NOT_FOUND']);
      const { createApiToken: viewer } = await api.ok(api.rootToken, ops.createApiToken, { name: `viewer-${store}`, role: 'VIEWER' });
      const refused = await api.request(viewer.token, runPlan, { planId: s.planId });
      expect(refused.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
      expect((await history(s.planId)).length).toBe(before);
      expect((await api.ok(api.rootToken, tasksQuery, { planId: s.planId })).tasks).toEqual([]);
      expect((await api.request(createTenant.token, tasksQuery, { planId: s.planId })).errors?.map((error) => error.extensions?.code)).toEqual(['NOT_FOUND']);
    });
  });
}

describe('a task whose process went quiet', () => {
  let storage: TestStorage;
  let api: TestApi;
  let s: Scenario;
  const staleAfterMs = 1500;
  beforeAll(async () => {
    storage = await testStorage('pglite');
    // A task with no sign of life for a second and a half counts as dead here (in service, half an
    // hour); a live one beats every 150 ms. GitLab may hold an answer long without it timing out.
    api = await startTestApi(storage, {
      service: { work: { runConcurrency: 1, runFlushMs: 20, taskStaleAfterMs: staleAfterMs }, gitlab: { timeoutMs: 30_000 } },
    });
    gitlabGroup(api.gitlab, 'quiet/platform');
    api.gitlab.addProject('quiet/platform', 'slow');
    s = await buildScenario(api, api.rootToken, 'quiet');
    const listed = await eventually(async () => {
      const data = await api.ok(api.rootToken, repositories, { id: s.organizationId });
      expect(data.repositories.totalCount).toBe(1);
      return data.repositories.edges[0].node.id as string;
    }, DEADLINE);
    await api.ok(api.rootToken, protect, { id: listed });
  });
  afterAll(async () => {
    await api?.close();
    await storage?.dispose();
  });
  const statusOf = async (id: string) => (await api.ok(api.rootToken, taskQuery, { id })).task;

  it('is not taken for dead while it runs, however long it records nothing: its process beats', async () => {
    // GitLab holds the project's first answer for 7 s: the task records nothing meanwhile.
    api.gitlab.fault({ match: (request) => request.path.startsWith('/api/v4/projects/'), delayMs: 7000, times: 1 });
    const first = (await api.ok(api.rootToken, runPlan, { planId: s.planId })).runPlan;
    // Twice the stale time without an event, and GitLab still holds the answer.
    await new Promise((resolve) => setTimeout(resolve, 2 * staleAfterMs));
    const refused = await api.request(api.rootToken, runPlan, { planId: s.planId });
    expect(refused.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect(refused.errors?.[0]?.message).toMatch(/is running/);
    await eventually(async () => expect((await statusOf(first.id)).status).toBe('COMPLETED'), DEADLINE);
    await api.service.app.jobs.idle();
    // Ended, it beats no more.
    const { me } = await api.ok(api.rootToken, ops.me);
    expect(await api.service.app.heartbeats.lastBeat(me.tenant.id, first.id)).toBeNull();
  });

  it('is recorded as failed once its process is gone and it has shown no sign of life for the stale time, and the plan runs again', async () => {
    // A task started by a process that stopped right after: its start is in the log, and nothing
    // beats for it.
    const { me } = await api.ok(api.rootToken, ops.me);
    const gone = randomUUID();
    const request = { principal: systemPrincipal(me.tenant.id), correlationId: randomUUID() };
    await execute(api.service.app, request, taskDecider, taskStream(gone), {
      type: 'StartBackupTask',
      data: {
        taskId: gone,
        planId: s.planId,
        organizationId: s.organizationId,
        repositoriesTotal: 1,
        now: new Date().toISOString(),
        known: { planActive: true },
      },
    });
    const refused = await api.request(api.rootToken, runPlan, { planId: s.planId });
    expect(refused.errors?.[0]?.extensions?.code).toBe('CONFLICT');

    await new Promise((resolve) => setTimeout(resolve, 2 * staleAfterMs));
    const second = (await api.ok(api.rootToken, runPlan, { planId: s.planId })).runPlan;
    expect(second.id).not.toBe(gone);
    const abandoned = await statusOf(gone);
    expect(abandoned).toMatchObject({ status: 'FAILED' });
    expect(abandoned.reason).toMatch(/interrupted: no sign of life/);
    await eventually(async () => expect((await statusOf(second.id)).status).toBe('COMPLETED'), DEADLINE);
  });
});
