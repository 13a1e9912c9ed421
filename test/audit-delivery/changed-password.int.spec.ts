import { randomBytes } from 'node:crypto';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { ops } from '../support/scenario';
import { deduplicated, startReceiver } from './receiver';

const FAST = { minBackoffMs: 20, maxBackoffMs: 200, scanEveryMs: 50, timeoutMs: 5000 };
const add = 'mutation($input: AddAuditDestinationInput!) { addAuditDestination(input: $input) { id } }';
const remove = 'mutation($id: ID!) { removeAuditDestination(id: $id) }';
const newSecret = () => `siem-secret-${randomBytes(18).toString('base64url')}`;

for (const store of apiStores) {
  describe(`a SIEM destination whose password changes, on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage, { service: { auditDelivery: FAST } });
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    const destinationWith = async (secret: string, url: string, name: string) => {
      const { storePassword } = await api.ok(api.rootToken, ops.storePassword, { input: { name: `${name} secret`, secret } });
      const { addAuditDestination } = await api.ok(api.rootToken, add, { input: { name, url, passwordId: storePassword.id } });
      return { passwordId: storePassword.id as string, destinationId: addAuditDestination.id as string };
    };
    const names = (deliveries: ReturnType<typeof deduplicated>) =>
      deliveries.filter((d) => d.type === 'DeviceRegistered').map((d) => (d.event as unknown as { data: { name: string } }).data.name);

    it('signs with the new secret from the next events on, without a restart', async () => {
      const rotated = newSecret();
      const receiver = await startReceiver(rotated);
      try {
        const { passwordId, destinationId } = await destinationWith(newSecret(), receiver.url(), 'healthy');
        await api.ok(api.rootToken, ops.registerDevice, { name: 'healthy-before' });
        await eventually(() => expect(names(deduplicated(receiver.accepted))).toEqual(['healthy-before']));
        await api.ok(api.rootToken, ops.changePassword, { id: passwordId, input: { secret: rotated } });
        await api.ok(api.rootToken, ops.registerDevice, { name: 'healthy-after' });
        await eventually(() => expect(names(deduplicated(receiver.accepted))).toEqual(['healthy-before', 'healthy-after']));
        const signedUnderRotated = (name: string) => receiver.accepted.find((d) => names([d])[0] === name)?.signatureValid;
        expect(signedUnderRotated('healthy-before')).toBe(false);
        expect(signedUnderRotated('healthy-after')).toBe(true);
        await api.ok(api.rootToken, remove, { id: destinationId });
      } finally {
        await receiver.close();
      }
    });

    it('takes up the new secret while retrying an event the receiver refused for its signature', async () => {
      const rotated = newSecret();
      const receiver = await startReceiver(rotated, (_, delivery) => (delivery.signatureValid ? 200 : 401));
      try {
        const { passwordId, destinationId } = await destinationWith(newSecret(), receiver.url(), 'refused');
        await api.ok(api.rootToken, ops.registerDevice, { name: 'refused-first' });
        await eventually(() => expect(receiver.requests()).toBeGreaterThanOrEqual(2));
        expect(receiver.accepted).toHaveLength(0);
        await api.ok(api.rootToken, ops.changePassword, { id: passwordId, input: { secret: rotated } });
        await api.ok(api.rootToken, ops.registerDevice, { name: 'refused-second' });
        await eventually(() => expect(names(deduplicated(receiver.accepted))).toEqual(['refused-first', 'refused-second']));
        expect(receiver.accepted.every((d) => d.signatureValid)).toBe(true);
        await api.ok(api.rootToken, remove, { id: destinationId });
      } finally {
        await receiver.close();
      }
    });
  });
}
