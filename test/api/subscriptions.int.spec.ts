import type { Client } from 'graphql-ws';
import { parseExposition, total } from '../metrics/scrape';
import { apiStores, listen, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { buildScenario, ops, type Scenario } from '../support/scenario';

const DEADLINE = 30_000;

type Live = { cursor: string; type: string; actor: { id: string }; data: Record<string, any> };
type Toggled = {
  cursor: string;
  enabled: boolean;
  plan: { id: string };
  credential: { id: string; login: string };
  actor: { id: string; name: string };
  occurredAt: string;
};
type Feed<T> = ReturnType<typeof listen<T>>;

/** The tenant's history after a cursor, every page of it. */
async function logAfter(
  api: TestApi,
  after: string,
  filter: Record<string, unknown> = {},
): Promise<{ cursor: string; type: string; data: Record<string, any> }[]> {
  const events = [];
  let cursor = after;
  for (;;) {
    const { auditLog } = await api.ok(api.rootToken, ops.auditLog, { filter, first: 500, after: cursor });
    events.push(...auditLog.edges.map((edge: any) => edge.node));
    if (!auditLog.pageInfo.hasNextPage) return events;
    cursor = auditLog.pageInfo.endCursor;
  }
}

const cursorOf = (item: unknown) => Object.values(item as Record<string, { cursor: string }>)[0].cursor;

/**
 * A subscription starts listening some time after the client asks, and nothing tells when: poke
 * (a mutation every feed would deliver, and the only write meanwhile) until each feed has delivered something.
 */
async function untilLive(api: TestApi, poke: () => Promise<unknown>, ...feeds: { received: unknown[] }[]): Promise<void> {
  await eventually(async () => {
    const before = feeds.map((feed) => feed.received.length);
    await poke();
    await eventually(
      () =>
        feeds.forEach((feed, index) => {
          expect(feed.received.length).toBeGreaterThan(before[index]);
        }),
      2000,
    );
  }, DEADLINE);
  // A poke given up on above may still be on its way, and would land among what the test counts next.
  // The last poke is the tenant's last event; a feed delivers in log order, so once each feed has it, none is left behind.
  const seen = cursorOf(feeds[0].received.at(-1));
  const last = (await logAfter(api, seen)).at(-1)?.cursor ?? seen;
  await eventually(
    () =>
      feeds.forEach((feed) => {
        expect(feed.received.map(cursorOf)).toContain(last);
      }),
    DEADLINE,
  );
}

/** Waits until the feed holds exactly what the history says happened after its first event. */
async function expectFeedMatchesLog(api: TestApi, feed: Feed<{ auditEvents: Live }>, filter: Record<string, unknown> = {}): Promise<Live[]> {
  return eventually(async () => {
    const live = feed.received.map((item) => item.auditEvents);
    const log = await logAfter(api, live[0].cursor, filter);
    expect(live.slice(1).map(({ cursor, type }) => ({ cursor, type }))).toEqual(log.map(({ cursor, type }) => ({ cursor, type })));
    return live;
  }, DEADLINE);
}

function errorCodes(errors: unknown[]): string[] {
  return errors.flat().map((error) => (error as { extensions?: { code?: string } }).extensions?.code ?? String(error));
}

for (const store of apiStores) {
  describe(`subscriptions over graphql-ws, on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    let s: Scenario;
    let meId: string;
    const open: Client[] = [];

    const subscribe = <T>(query: string, variables: Record<string, unknown> = {}) => {
      const client = api.ws(api.rootToken);
      open.push(client);
      return { client, feed: listen<T>(client, query, variables) };
    };
    const auditFeed = (variables: Record<string, unknown> = {}) => subscribe<{ auditEvents: Live }>(ops.auditEvents, variables);
    const toggledFeed = (planId?: string) => subscribe<{ planCredentialToggled: Toggled }>(ops.planCredentialToggled, planId === undefined ? {} : { planId });

    // Only flip() touches these pairs, and each starts switched off: every flip writes an event.
    const flipped = new Map<string, boolean>();
    const flip = (planId = s.planId, credentialId = s.credentialIds[1]) => {
      const enabled = !flipped.get(`${planId}/${credentialId}`);
      flipped.set(`${planId}/${credentialId}`, enabled);
      return api.ok(api.rootToken, ops.togglePlanCredential, { planId, credentialId, enabled });
    };
    const marker = () => api.ok(api.rootToken, ops.registerDevice, { name: `marker-${Math.random().toString(36).slice(2)}` });

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage);
      s = await buildScenario(api, api.rootToken);
      // The organization's first repository sync writes to the history too: a feed must not count its events among the tests' own.
      await api.service.app.jobs.idle();
      meId = (await api.ok(api.rootToken, ops.me)).me.id;
    });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((client) => client.dispose()));
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    it("delivers the tenant's events as mutations happen, with their type, actor and data", async () => {
      const { feed } = auditFeed();
      await untilLive(api, marker, feed);

      const { createPlan } = await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: 'live' } });
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: createPlan.id, credentialId: s.credentialIds[0], enabled: true });

      const live = await expectFeedMatchesLog(api, feed);
      const created = live.find((event) => event.type === 'PlanCreated');
      expect(created).toMatchObject({ actor: { id: meId }, data: { planId: createPlan.id, organizationId: s.organizationId, name: 'live' } });
      expect(live.at(-1)).toMatchObject({
        type: 'PlanCredentialToggled',
        actor: { id: meId },
        data: { planId: createPlan.id, credentialId: s.credentialIds[0], enabled: true },
      });
      expect(feed.errors).toEqual([]);
    });

    it('resumes from the last cursor seen: the missed events first, then live ones, nothing skipped or repeated', async () => {
      const first = auditFeed();
      await untilLive(api, marker, first.feed);
      const { createPlan: resumed } = await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: 'resumed' } });
      const seen = await eventually(async () => {
        const live = await expectFeedMatchesLog(api, first.feed);
        expect(live.at(-1)).toMatchObject({ type: 'PlanCreated', data: { planId: resumed.id } });
        return live;
      }, DEADLINE);
      const lastSeen = seen.at(-1)!.cursor;
      await first.client.dispose();

      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: resumed.id, credentialId: s.credentialIds[0], enabled: true });
      await api.ok(api.rootToken, ops.setPlanAdditionalCredentials, { planId: resumed.id, enabled: true });
      await marker();
      const missed = await logAfter(api, lastSeen);
      expect(missed.map((event) => event.type)).toEqual(['PlanCredentialToggled', 'PlanAdditionalCredentialsSet', 'DeviceRegistered']);

      const second = auditFeed({ after: lastSeen });
      await eventually(() => expect(second.feed.received.map((item) => item.auditEvents.cursor)).toEqual(missed.map((event) => event.cursor)), DEADLINE);
      await api.ok(api.rootToken, ops.deletePlan, { id: resumed.id });
      await eventually(async () => {
        const all = await logAfter(api, lastSeen);
        expect(all.at(-1)?.type).toBe('PlanDeleted');
        expect(second.feed.received.map((item) => item.auditEvents.cursor)).toEqual(all.map((event) => event.cursor));
      }, DEADLINE);
      expect(second.feed.errors).toEqual([]);
    });

    it('refuses an `after` that is not a cursor with BAD_USER_INPUT', async () => {
      const { feed } = auditFeed({ after: 'not-a-cursor' });
      await eventually(() => expect(errorCodes(feed.errors)).toEqual(['BAD_USER_INPUT']), DEADLINE);
      expect(feed.received).toEqual([]);
    });

    it('applies the filter to the live feed: event types, and one plan', async () => {
      const byType = auditFeed({ filter: { types: ['PlanCredentialToggled'] } });
      const byPlan = auditFeed({ filter: { planId: s.planId } });
      await untilLive(api, flip, byType.feed, byPlan.feed);

      const { createPlan: other } = await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: 'filtered out' } });
      await flip(other.id);
      await api.ok(api.rootToken, ops.setPlanAdditionalCredentials, { planId: s.planId, enabled: false });
      await api.ok(api.rootToken, ops.setPlanAdditionalCredentials, { planId: s.planId, enabled: true });
      await marker();
      await flip();

      const toggles = await expectFeedMatchesLog(api, byType.feed, { types: ['PlanCredentialToggled'] });
      expect(new Set(toggles.map((event) => event.type))).toEqual(new Set(['PlanCredentialToggled']));
      expect(toggles.some((event) => event.data.planId === other.id)).toBe(true);

      const ofPlan = await expectFeedMatchesLog(api, byPlan.feed, { planId: s.planId });
      expect(new Set(ofPlan.map((event) => event.data.planId))).toEqual(new Set([s.planId]));
      expect(ofPlan.filter((event) => event.type === 'PlanAdditionalCredentialsSet').map((event) => event.data.enabled)).toEqual([false, true]);
    });

    it("planCredentialToggled(planId) delivers that plan's toggles only, with the plan, the credential, the value, the actor and the instant", async () => {
      const { createPlan: other } = await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: 'not listened to' } });
      const { feed } = toggledFeed(s.planId);
      await untilLive(api, flip, feed);
      const start = feed.received.length;

      await flip(other.id, s.credentialIds[0]);
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[0], enabled: false });
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[0], enabled: true });

      await eventually(() => expect(feed.received.length).toBe(start + 2), DEADLINE);
      const [off, on] = feed.received.slice(start).map((item) => item.planCredentialToggled);
      expect(off).toMatchObject({
        enabled: false,
        plan: { id: s.planId },
        credential: { id: s.credentialIds[0], login: 'acme-bot1' },
        actor: { id: meId, name: 'first administrator' },
      });
      expect(on).toMatchObject({ enabled: true, plan: { id: s.planId }, credential: { id: s.credentialIds[0] } });
      expect(Number.isNaN(Date.parse(on.occurredAt))).toBe(false);

      const first = feed.received[0].planCredentialToggled.cursor;
      const log = await logAfter(api, first, { types: ['PlanCredentialToggled'], planId: s.planId });
      expect(feed.received.slice(1).map((item) => item.planCredentialToggled.cursor)).toEqual(log.map((event) => event.cursor));
      expect(feed.received.every((item) => item.planCredentialToggled.plan.id === s.planId)).toBe(true);
      expect(feed.errors).toEqual([]);
    });

    it('delivers nothing for a toggle to the value the credential already has', async () => {
      const { feed } = toggledFeed(s.planId);
      await untilLive(api, flip, feed);
      const start = feed.received.length;
      const { plan } = await api.ok(api.rootToken, ops.plan, { id: s.planId });
      const current = plan.credentials.find((c: any) => c.credential.id === s.credentialIds[0]).enabled;

      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[0], enabled: current });
      await flip();

      // The events of one plan arrive in order: had the no-op written anything, it would be here before the flip.
      await eventually(() => expect(feed.received.length).toBeGreaterThan(start), DEADLINE);
      expect(feed.received.slice(start).map((item) => item.planCredentialToggled.credential.id)).toEqual([s.credentialIds[1]]);
    });

    it('removing a credential delivers its switching off on each plan that had it', async () => {
      const r = await buildScenario(api, api.rootToken, 'removal');
      await api.service.app.jobs.idle();
      const { createPlan: having } = await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: r.organizationId, name: 'removal having' } });
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: having.id, credentialId: r.credentialIds[0], enabled: true });
      const { createPlan: without } = await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: r.organizationId, name: 'removal without' } });

      const { feed } = toggledFeed();
      await untilLive(api, () => flip(without.id, r.credentialIds[1]), feed);
      const start = feed.received.length;

      await api.ok(api.rootToken, ops.removeCredential, { id: r.credentialIds[0] });
      await flip(without.id, r.credentialIds[1]);

      const arrived = () => feed.received.slice(start).map((item) => item.planCredentialToggled);
      await eventually(() => expect(arrived().map((item) => item.plan.id)).toContain(without.id), DEADLINE);
      const delivered = arrived().slice(0, -1);
      expect(arrived().at(-1)!.plan.id).toBe(without.id);
      expect(delivered.map((item) => item.plan.id).sort()).toEqual([r.planId, having.id].sort());
      for (const item of delivered) expect(item).toMatchObject({ enabled: false, credential: { id: r.credentialIds[0], login: 'removal-bot1' } });
    });

    it('executes the selection once per event for subscribers of one operation, variables and view, and each still gets only what it may see', async () => {
      const results = async () => {
        const samples = parseExposition(await api.service.metrics.text());
        const count = (execution: string) => total(samples, 'backplane_graphql_subscription_results_total', { execution });
        return { executed: count('executed'), shared: count('shared') };
      };
      const viewer = (await api.ok(api.rootToken, ops.createApiToken, { name: 'watcher', role: 'VIEWER' })).createApiToken.token;
      const { createPlan: elsewherePlan } = await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: 'elsewhere' } });
      const globexToken = (await api.ok(api.rootToken, ops.createTenant, { name: 'globex' })).createTenant.token;
      const globex = await buildScenario(api, globexToken, 'globex');
      await api.service.app.jobs.idle();
      let globexEnabled = false;
      const globexFlip = () => {
        globexEnabled = !globexEnabled;
        return api.ok(globexToken, ops.togglePlanCredential, { planId: globex.planId, credentialId: globex.credentialIds[1], enabled: globexEnabled });
      };
      const socket = (token: string) => {
        const client = api.ws(token);
        open.push(client);
        return client;
      };

      const rootSockets = [socket(api.rootToken), socket(api.rootToken)];
      const viewerSocket = socket(viewer);
      const onPlan = (client: Client) => listen<{ planCredentialToggled: Toggled }>(client, ops.planCredentialToggled, { planId: s.planId });
      // Six of one view over two sockets, two of another role's view, one of another plan, one of another tenant.
      const admins = [...rootSockets, ...rootSockets, ...rootSockets].map(onPlan);
      const viewers = [onPlan(viewerSocket), onPlan(viewerSocket)];
      const elsewhere = listen<{ planCredentialToggled: Toggled }>(rootSockets[0], ops.planCredentialToggled, { planId: elsewherePlan.id });
      const ofGlobex = listen<{ planCredentialToggled: Toggled }>(socket(globexToken), ops.planCredentialToggled, {});
      await untilLive(api, () => flip(), ...admins, ...viewers);
      await untilLive(api, () => flip(elsewherePlan.id, s.credentialIds[0]), elsewhere);
      // The other tenant's history, as its own token reads it.
      await untilLive({ ...api, rootToken: globexToken }, globexFlip, ofGlobex);
      const seen = [...admins, ...viewers, elsewhere, ofGlobex].map((feed) => feed.received.length);
      const before = await results();

      await flip();
      await eventually(
        () =>
          [...admins, ...viewers].forEach((feed, index) => {
            expect(feed.received.length).toBe(seen[index] + 1);
          }),
        DEADLINE,
      );
      const toggle = cursorOf(admins[0].received.at(-1));
      // Later writes only the other two may see: once they have them, they have had every chance to get the toggle.
      await flip(elsewherePlan.id, s.credentialIds[0]);
      await globexFlip();
      await eventually(
        () =>
          [elsewhere, ofGlobex].forEach((feed, index) => {
            expect(feed.received.length).toBe(seen[admins.length + viewers.length + index] + 1);
          }),
        DEADLINE,
      );
      const after = await results();

      // The toggle once for the six, once for the two viewers; each later write once for its one subscriber.
      expect({ executed: after.executed - before.executed, shared: after.shared - before.shared }).toEqual({ executed: 4, shared: 6 });
      const delivered = [...admins, ...viewers].map((feed) => feed.received.at(-1)!.planCredentialToggled);
      for (const item of delivered) expect(item).toEqual(delivered[0]);
      expect(delivered[0]).toMatchObject({ cursor: toggle, plan: { id: s.planId }, credential: { id: s.credentialIds[1] } });
      expect(elsewhere.received.every((item) => item.planCredentialToggled.plan.id === elsewherePlan.id)).toBe(true);
      expect(ofGlobex.received.every((item) => item.planCredentialToggled.plan.id === globex.planId)).toBe(true);
      expect(ofGlobex.received.map(cursorOf)).not.toContain(toggle);
      for (const feed of [...admins, ...viewers, elsewhere, ofGlobex]) expect(feed.errors).toEqual([]);
    });

    it("resolves every field under a toggle's plan and credential in a result shared by its view, as a query of them answers", async () => {
      const planFields = `id name version backupSettings { nextRunAt keepLast storage { id name isDefault } }
        organization { id name password { id name } defaultDevice { id name } lastSync { id status } credentials { id login } }
        credentials { enabled effective credential { id login fingerprint status password { id } organization { id } } }`;
      const credentialFields = 'id login fingerprint status password { id name fingerprint } organization { id name }';
      const deep = `subscription($planId: ID) { planCredentialToggled(planId: $planId) { cursor enabled
        plan { ${planFields} } credential { ${credentialFields} } } }`;
      const feeds = [0, 1].map(
        () => subscribe<{ planCredentialToggled: { cursor: string; plan: unknown; credential: unknown } }>(deep, { planId: s.planId }).feed,
      );
      await untilLive(api, () => flip(), ...feeds);

      await flip();
      const last = await eventually(async () => {
        const [first, second] = feeds.map((feed) => feed.received.at(-1)!.planCredentialToggled);
        const log = await logAfter(api, first.cursor);
        expect([log, second.cursor]).toEqual([[], first.cursor]);
        return [first, second];
      }, DEADLINE);
      const { plan } = await api.ok(api.rootToken, `query($id: ID!) { plan(id: $id) { ${planFields} } }`, { id: s.planId });
      const { organization } = await api.ok(api.rootToken, `query($id: ID!) { organization(id: $id) { credentials { ${credentialFields} } } }`, {
        id: s.organizationId,
      });
      const credential = organization.credentials.find((item: { id: string }) => item.id === s.credentialIds[1]);
      for (const item of last) expect(item).toMatchObject({ plan, credential });
      for (const feed of feeds) expect(feed.errors).toEqual([]);
    });
  });
}
