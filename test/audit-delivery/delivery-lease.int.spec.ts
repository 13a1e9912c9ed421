import { randomBytes } from 'node:crypto';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { GitLabDouble } from '../support/gitlab-double';
import { ops } from '../support/scenario';
import { deduplicated, startReceiver } from './receiver';

const FAST = { minBackoffMs: 20, maxBackoffMs: 200, scanEveryMs: 50, timeoutMs: 5000 };
const add = 'mutation($input: AddAuditDestinationInput!) { addAuditDestination(input: $input) { id addedPosition } }';

// Two processes on one PostgreSQL database, as a deployment scales out; PGlite serves one process only.
const describeOnPostgres = apiStores.includes('postgres') ? describe : describe.skip;

describeOnPostgres('a SIEM destination served by two processes on one database', () => {
  const secret = `siem-secret-${randomBytes(18).toString('base64url')}`;
  let storage: TestStorage;
  let gitlab: GitLabDouble;
  let a: TestApi | undefined;
  let b: TestApi | undefined;

  beforeAll(async () => {
    storage = await testStorage('postgres');
    gitlab = await GitLabDouble.start();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await gitlab?.close();
    await storage?.dispose();
  });

  it('is delivered by one of them at a time, and by the other once the first is gone', async () => {
    const receiver = await startReceiver(secret, () => 200, 5);
    try {
      a = await startTestApi(storage, { gitlab, service: { auditDelivery: FAST } });
      const { storePassword } = await a.ok(a.rootToken, ops.storePassword, { input: { name: 'siem secret', secret } });
      await a.ok(a.rootToken, add, { input: { name: 'siem', url: receiver.url(), passwordId: storePassword.id } });
      await a.ok(a.rootToken, ops.registerDevice, { name: 'first' });
      // A alone took the lease, and holds it while B starts.
      await eventually(() => expect(receiver.accepted.some((d) => d.type === 'DeviceRegistered')).toBe(true));
      b = await startTestApi(storage, { rootToken: a.rootToken, gitlab, service: { auditDelivery: FAST } });

      const names = Array.from({ length: 10 }, (_, i) => `device-${i}`);
      for (const [i, name] of names.entries()) await (i % 2 === 0 ? a : b).ok(a.rootToken, ops.registerDevice, { name });
      const registered = () => deduplicated(receiver.accepted).filter((d) => d.type === 'DeviceRegistered');
      await eventually(() => expect(registered()).toHaveLength(11), 30_000);
      // With both delivering, each event would have come twice.
      expect(receiver.received).toHaveLength(deduplicated(receiver.received).length);

      await a.close();
      a = undefined;
      const later = ['later-0', 'later-1', 'later-2'];
      for (const name of later) await b.ok(b.rootToken, ops.registerDevice, { name });
      await eventually(
        () => expect(registered().map((d) => (d.event as unknown as { data: { name: string } }).data.name)).toEqual(['first', ...names, ...later]),
        30_000,
      );
      expect(receiver.received.every((d) => d.signatureValid)).toBe(true);
    } finally {
      await receiver.close();
    }
  });
});
