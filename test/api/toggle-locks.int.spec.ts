import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { buildScenario, ops, type Scenario } from '../support/scenario';

/**
 * A credential's switch on holds the credential's lock (it counts the plans the credential is on);
 * a switch off judges nothing beyond the plan and the credential's own stream, and takes no lock.
 */
for (const store of apiStores) {
  describe(`togglePlanCredential and the credential's lock, over HTTP on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    let s: Scenario;
    let tenantId: string;
    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage);
      s = await buildScenario(api, api.rootToken, 'locks');
      await api.service.app.jobs.idle();
      [{ tenant_id: tenantId }] = await api.service.app.db.query<{ tenant_id: string }>('SELECT tenant_id FROM plans WHERE id = $1', [s.planId]);
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    /** Runs `during` while another holds the credential's lock, and answers what it answered and whether it ended before the lock was let go. */
    async function whileLocked<T>(credentialId: string, during: () => Promise<T>): Promise<{ answer: T; beforeRelease: boolean }> {
      let released = false;
      let holding!: () => void;
      const held = new Promise<void>((resolve) => (holding = resolve));
      const lock = api.service.app.tenantLock.runScoped(tenantId, [`credential:${credentialId}`], async () => {
        holding();
        // Long enough for a switch off to answer on a loaded machine.
        await new Promise((resolve) => setTimeout(resolve, 3000));
        released = true;
      });
      await held;
      const answered = during().then((answer) => ({ answer, beforeRelease: !released }));
      await lock;
      return answered;
    }

    /** Switches the credential while another holds its lock; answers whether it answered before the release, having shown the change. */
    async function switchedWhileLocked(credentialId: string, enabled: boolean): Promise<boolean> {
      const { answer, beforeRelease } = await whileLocked(credentialId, () =>
        api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId, enabled }),
      );
      const credential = answer.togglePlanCredential.credentials.find((c: { credential: { id: string } }) => c.credential.id === credentialId);
      expect(credential.enabled).toBe(enabled);
      const { plan } = await api.ok(api.rootToken, ops.plan, { id: s.planId });
      expect(plan.version).toBe(answer.togglePlanCredential.version);
      return beforeRelease;
    }

    it('switches a credential off while another holds its lock, answering the plan with the change', async () => {
      expect(await switchedWhileLocked(s.credentialIds[0], false)).toBe(true);
    });

    it('waits for the lock to switch a credential on, and answers the plan with the change', async () => {
      expect(await switchedWhileLocked(s.credentialIds[1], true)).toBe(false);
    });

    it('still refuses to switch off a credential that is none of the plan organization, as not found', async () => {
      const answer = await api.request(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.passwordId, enabled: false });
      expect(answer.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    });
  });
}
