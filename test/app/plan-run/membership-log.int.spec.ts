import { randomUUID } from 'node:crypto';
import { MembershipLog } from '../../../src/app/plan-run/membership-log';
import { credentialStream, type CredentialEvent } from '../../../src/domain/credential';
import { planStream, switchedOnCredentials, type PlanEvent } from '../../../src/domain/plan';
import { SqlEventStore } from '../../../src/eventstore/postgres/sql-event-store';
import type { JsonValue } from '../../../src/eventstore/types';
import type { SqlDatabase } from '../../../src/sql/database';
import { dropTestSchemas, testDatabases } from '../../support/databases';

afterAll(dropTestSchemas);

for (const database of testDatabases) {
  describe(`a plan run's membership log on ${database.name}`, () => {
    let db: SqlDatabase;
    let store: SqlEventStore;
    beforeAll(async () => {
      db = await database.open();
      store = await SqlEventStore.open(db);
    });
    afterAll(async () => {
      await db?.close();
    });

    const append = (stream: string, tenantId: string, events: (PlanEvent | CredentialEvent)[]) =>
      store.appendToStream(
        stream,
        events.map((event) => ({ type: event.type, data: event.data as JsonValue, metadata: { tenantId } })),
      );

    function subject() {
      const [planId, credentialId] = [randomUUID(), randomUUID()];
      const ref = { planId, organizationId: 'o1' };
      const toggled = (enabled: boolean): PlanEvent => ({ type: 'PlanCredentialToggled', data: { ...ref, credentialId, enabled } });
      const plan: PlanEvent[] = [
        { type: 'PlanCreated', data: { ...ref, name: 'nightly' } },
        { type: 'PlanAdditionalCredentialsSet', data: { ...ref, enabled: true } },
      ];
      const added: CredentialEvent = {
        type: 'CredentialAdded',
        data: { credentialId, organizationId: 'o1', login: 'alice', passwordId: 'pw-1', access: null },
      };
      return { planId, credentialId, plan: [...plan, toggled(true)], toggled, added, log: new MembershipLog(store, 'tenant-a', planId) };
    }

    it('reads the plan and its credentials, and on each read what was appended since', async () => {
      const { planId, credentialId, plan, toggled, added, log } = subject();
      await append(planStream(planId), 'tenant-a', plan);
      await append(credentialStream(credentialId), 'tenant-a', [added]);
      expect(switchedOnCredentials(await log.readPlan())).toEqual([credentialId]);
      await log.readCredentials([credentialId]);
      expect(log.credential(credentialId)).toEqual({
        state: { status: 'active', organizationId: 'o1', expiresAt: null, failure: null, expiringFor: null },
        login: 'alice',
        passwordId: 'pw-1',
      });

      await append(planStream(planId), 'tenant-a', [toggled(false)]);
      await append(credentialStream(credentialId), 'tenant-a', [{ type: 'CredentialRemoved', data: { credentialId, organizationId: 'o1' } }]);
      expect(switchedOnCredentials(await log.readPlan())).toEqual([]);
      await log.readCredentials([credentialId]);
      expect(log.credentialStates().get(credentialId)?.status).toBe('removed');
    });

    it("knows nothing of another tenant's credential", async () => {
      const { planId, credentialId, plan, added, log } = subject();
      await append(planStream(planId), 'tenant-a', plan);
      await append(credentialStream(credentialId), 'tenant-b', [added]);
      await log.readCredentials(switchedOnCredentials(await log.readPlan()));
      expect(log.credential(credentialId)).toBeUndefined();
      expect(log.credentialStates().size).toBe(0);
    });

    it("takes no credential from another tenant's plan stream", async () => {
      const { planId, plan, log } = subject();
      await append(planStream(planId), 'tenant-b', plan);
      expect(switchedOnCredentials(await log.readPlan())).toEqual([]);
    });
  });
}
