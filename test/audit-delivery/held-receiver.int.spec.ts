import { randomBytes } from 'node:crypto';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { ops } from '../support/scenario';
import { deduplicated, startReceiver } from './receiver';

// A request's deadline far beyond the test: the held request stays the first and only one until released.
const HOLDING = { minBackoffMs: 20, maxBackoffMs: 200, scanEveryMs: 50, timeoutMs: 10 * 60_000 };
const add = 'mutation($input: AddAuditDestinationInput!) { addAuditDestination(input: $input) { id addedPosition } }';
const history = 'query($filter: AuditFilter) { auditLog(filter: $filter, first: 500) { edges { node { type data } } } }';
const MUTATIONS = 8;

for (const store of apiStores) {
  describe(`a SIEM receiver that holds its answer, on ${store}`, () => {
    const secret = `siem-secret-${randomBytes(18).toString('base64url')}`;
    let storage: TestStorage;
    let api: TestApi;

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage, { service: { auditDelivery: HOLDING } });
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    it('holds back no mutation, of its tenant or another, and no event from being read; delivery resumes in order once it answers', async () => {
      let release: (status: number) => void = () => undefined;
      const held = new Promise<number>((resolve) => {
        release = resolve;
      });
      const receiver = await startReceiver(secret, (request) => (request === 1 ? held : 200));
      try {
        const { storePassword } = await api.ok(api.rootToken, ops.storePassword, { input: { name: 'siem secret', secret } });
        const { addAuditDestination: added } = await api.ok(api.rootToken, add, { input: { name: 'siem', url: receiver.url(), passwordId: storePassword.id } });
        const other = (await api.ok(api.rootToken, ops.createTenant, { name: 'other' })).createTenant.token as string;
        await api.ok(api.rootToken, ops.registerDevice, { name: 'first' });
        await eventually(() => expect(receiver.requests()).toBe(1));

        // While the receiver holds its first request, both tenants' mutations complete and their events are read back.
        const ours = Array.from({ length: MUTATIONS }, (_, i) => `ours-${i}`);
        const theirs = Array.from({ length: MUTATIONS }, (_, i) => `theirs-${i}`);
        for (const [i, name] of ours.entries()) {
          await api.ok(api.rootToken, ops.registerDevice, { name });
          await api.ok(other, ops.registerDevice, { name: theirs[i] });
        }
        const registered = async (token: string) =>
          (await api.ok(token, history, { filter: { types: ['DeviceRegistered'] } })).auditLog.edges.map(
            (edge: { node: { data: { name: string } } }) => edge.node.data.name,
          );
        await eventually(async () => expect(await registered(api.rootToken)).toEqual(expect.arrayContaining(['first', ...ours])));
        await eventually(async () => expect(await registered(other)).toEqual(expect.arrayContaining(theirs)));
        expect((await api.ok(api.rootToken, ops.devices)).devices.map((d: { name: string }) => d.name)).toEqual(expect.arrayContaining(ours));
        expect(receiver.requests()).toBe(1);
        expect(receiver.accepted).toHaveLength(0);

        release(200);
        const expected = (await api.service.backplane.store.readAll({ fromPosition: added.addedPosition }))
          .filter((event) => event.metadata.tenantId === receiver.received[0].event.metadata.tenantId)
          .map((event) => event.id);
        await eventually(() => expect(deduplicated(receiver.accepted).map((d) => d.id)).toEqual(expected), 30_000);
        expect(receiver.received.every((d) => d.signatureValid)).toBe(true);
      } finally {
        release(200);
        await receiver.close();
      }
    }, 120_000);
  });
}
