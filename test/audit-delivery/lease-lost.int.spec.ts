import { randomBytes } from 'node:crypto';
import { DeliveryStates } from '../../src/app/audit-delivery/delivery-state';
import { deliverDestination } from '../../src/app/audit-delivery/destination-delivery';
import { auditDestinationById } from '../../src/queries/audit-destinations';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { ops } from '../support/scenario';
import { deduplicated, startReceiver } from './receiver';

// The service's own deliveries look for destinations at start only (none then); the test runs this one itself.
// Nothing is written before a stop: no batch fills, none grows old.
const SETTINGS = { minBackoffMs: 20, maxBackoffMs: 200, timeoutMs: 5000, checkpointEvents: 10_000, checkpointMs: 10 * 60_000 };
const add = 'mutation($input: AddAuditDestinationInput!) { addAuditDestination(input: $input) { id } }';

for (const store of apiStores) {
  describe(`a SIEM delivery that loses its lease, on ${store}`, () => {
    const secret = `siem-secret-${randomBytes(18).toString('base64url')}`;
    let storage: TestStorage;
    let api: TestApi;

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage, { service: { auditDelivery: { ...SETTINGS, scanEveryMs: 60 * 60_000 } } });
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    it('leaves the checkpoint to the next holder when stopped for a lost lease, and writes it when stopped in order', async () => {
      const receiver = await startReceiver(secret);
      try {
        const { storePassword } = await api.ok(api.rootToken, ops.storePassword, { input: { name: 'siem secret', secret } });
        const { addAuditDestination } = await api.ok(api.rootToken, add, { input: { name: 'siem', url: receiver.url(), passwordId: storePassword.id } });
        const tenantId = (await api.ok(api.rootToken, ops.me)).me.tenant.id as string;
        const names = ['one', 'two', 'three'];
        for (const name of names) await api.ok(api.rootToken, ops.registerDevice, { name });
        const { db, store: events } = api.service.backplane;
        const destination = (await auditDestinationById(db, tenantId, addAuditDestination.id))!;
        const deps = { store: events, db, vault: api.service.app.vault, states: await DeliveryStates.open(db) };
        const registered = () => receiver.accepted.filter((d) => d.type === 'DeviceRegistered').length;

        const lost = deliverDestination(deps, destination, SETTINGS);
        await eventually(() => expect(registered()).toBe(names.length));
        await lost.stop({ flush: false });
        await lost.done;
        expect(await deps.states.checkpoint(destination.id)).toBeNull();

        // The next holder starts where the checkpoint was: it sends them again, and its orderly stop writes how far it went.
        const next = deliverDestination(deps, destination, SETTINGS);
        await eventually(() => expect(registered()).toBe(2 * names.length));
        await next.stop();
        const checkpoint = await deps.states.checkpoint(destination.id);
        const [last] = await events.readAll({ filter: { eventTypes: ['DeviceRegistered'] }, direction: 'backwards', fromPosition: 'end', maxCount: 1 });
        expect(checkpoint).not.toBeNull();
        expect(events.comparePositions(checkpoint!, last.position)).toBeGreaterThanOrEqual(0);
        expect(deduplicated(receiver.accepted).filter((d) => d.type === 'DeviceRegistered')).toHaveLength(names.length);
      } finally {
        await receiver.close();
      }
    });
  });
}
