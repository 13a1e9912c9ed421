import { PLANS_PER_CREDENTIAL } from '../../src/domain/plan';
import { apiStores, startTestApi, testStorage, type GraphQLResponse, type TestApi, type TestStorage } from '../support/api-server';
import { describeWithPostgres } from '../support/databases';
import { GitLabDouble } from '../support/gitlab-double';
import { buildScenario, ops, type Scenario } from '../support/scenario';

/**
 * A credential on one plan fewer than the limit, and two more plans of its organization: the
 * scenario's plan has it on, `PLANS_PER_CREDENTIAL - 2` others are switched on here.
 */
async function oneShortOfTheLimit(api: TestApi, label: string): Promise<{ s: Scenario; credentialId: string; contested: [string, string] }> {
  const s = await buildScenario(api, api.rootToken, label);
  await api.service.app.jobs.idle();
  const credentialId = s.credentialIds[0];
  const plans: string[] = [];
  for (let index = 0; index < PLANS_PER_CREDENTIAL; index++) {
    const { createPlan } = await api.ok(api.rootToken, ops.createPlan, { input: { organizationId: s.organizationId, name: `${label} plan ${index}` } });
    plans.push(createPlan.id);
  }
  for (const planId of plans.slice(2)) await api.ok(api.rootToken, ops.togglePlanCredential, { planId, credentialId, enabled: true });
  return { s, credentialId, contested: [plans[0], plans[1]] };
}

const toggle = (api: TestApi, planId: string, credentialId: string) =>
  api.request(api.rootToken, ops.togglePlanCredential, { planId, credentialId, enabled: true });
const update = (api: TestApi, planId: string, credentialId: string) =>
  api.request(api.rootToken, ops.updatePlanCredentials, { planId, input: { credentials: [{ credentialId, enabled: true }] } });

/** Of two switch-ons that raced for the last place, one passed and the other was refused naming the limit. */
function expectOneWinner(answers: GraphQLResponse[]): void {
  expect(answers.filter((answer) => answer.errors === undefined)).toHaveLength(1);
  const [refused] = answers.filter((answer) => answer.errors !== undefined);
  expect(refused.errors).toEqual([
    expect.objectContaining({ message: expect.stringMatching(`at most ${PLANS_PER_CREDENTIAL} plans`), extensions: { code: 'CONFLICT' } }),
  ]);
}

async function plansWithCredentialOn(api: TestApi, s: Scenario, credentialId: string): Promise<number> {
  const { plans } = await api.ok(api.rootToken, ops.plans, { organizationId: s.organizationId });
  const on = await Promise.all(
    plans.map(async ({ id }: { id: string }) =>
      (await api.ok(api.rootToken, ops.plan, { id })).plan.credentials.some((c: any) => c.credential.id === credentialId && c.enabled),
    ),
  );
  return on.filter(Boolean).length;
}

for (const store of apiStores) {
  describe(`a credential on at most ${PLANS_PER_CREDENTIAL} plans, over HTTP on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    let rounds = 0;
    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage);
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    it('lets exactly one of two concurrent switch-ons take the last place', async () => {
      const { s, credentialId, contested } = await oneShortOfTheLimit(api, `race${++rounds}`);
      expectOneWinner(await Promise.all([toggle(api, contested[0], credentialId), update(api, contested[1], credentialId)]));
      expect(await plansWithCredentialOn(api, s, credentialId)).toBe(PLANS_PER_CREDENTIAL);
    });

    it('gives the place to another plan once one lets the credential go', async () => {
      const { credentialId, contested } = await oneShortOfTheLimit(api, `race${++rounds}`);
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: contested[0], credentialId, enabled: true });
      expect((await toggle(api, contested[1], credentialId)).errors?.[0].extensions?.code).toBe('CONFLICT');
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: contested[0], credentialId, enabled: false });
      expect((await toggle(api, contested[1], credentialId)).errors).toBeUndefined();
    });
  });
}

// Two processes on one database: the rule holds across them, not only within one.
describeWithPostgres(`a credential on at most ${PLANS_PER_CREDENTIAL} plans, with two services on one PostgreSQL`, () => {
  let storage: TestStorage;
  let gitlab: GitLabDouble;
  let a: TestApi;
  let b: TestApi;
  beforeAll(async () => {
    storage = await testStorage('postgres');
    gitlab = await GitLabDouble.start();
    a = await startTestApi(storage, { gitlab });
    b = await startTestApi(storage, { rootToken: a.rootToken, gitlab });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await gitlab?.close();
    await storage?.dispose();
  });

  it('lets exactly one of two switch-ons, one through each service, take the last place', async () => {
    const { s, credentialId, contested } = await oneShortOfTheLimit(a, 'across');
    expectOneWinner(await Promise.all([toggle(a, contested[0], credentialId), toggle(b, contested[1], credentialId)]));
    expect(await plansWithCredentialOn(b, s, credentialId)).toBe(PLANS_PER_CREDENTIAL);
  });
});
