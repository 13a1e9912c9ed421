import { apiStores, startTestApi, testStorage, type StoreName, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { GitLabDouble } from '../support/gitlab-double';
import { ops } from '../support/scenario';
import { dayFromNow as day, organizationOnDouble } from './expiring-tokens';
import { startHookReceiver } from './receivers';

const FAST = { minBackoffMs: 20, maxBackoffMs: 200, scanEveryMs: 50, timeoutMs: 5000 };
const DAY_MS = 86_400_000;
const addChannel = 'mutation($input: AddNotificationChannelInput!) { addNotificationChannel(input: $input) { id } }';
const credentials = 'query($organizationId: ID!) { credentials(organizationId: $organizationId) { id login status token { expiresAt } } }';

describe.each(apiStores)('tokens entering their last 14 days, noticed by the scheduled check, on %s', (store: StoreName) => {
  let storage: TestStorage;
  let gitlab: GitLabDouble;
  let api: TestApi;
  // What the check takes to be now: moved ahead by the test, day by day.
  let clockOffsetDays = 0;

  beforeAll(async () => {
    storage = await testStorage(store);
    gitlab = await GitLabDouble.start();
    api = await startTestApi(storage, {
      gitlab,
      env: { BACKPLANE_SYNC_CHECK_MS: '50' },
      service: { notifications: FAST, scheduleClock: () => new Date(Date.now() + clockOffsetDays * DAY_MS) },
    });
  });
  afterAll(async () => {
    await api?.close();
    await gitlab?.close();
    await storage?.dispose();
  });

  it('records CredentialExpiring once per credential and expiry day, shows it EXPIRING, and notifies it once', async () => {
    const hooks = await startHookReceiver();
    try {
      await api.ok(api.rootToken, addChannel, { input: { name: 'expiry hook', url: hooks.url(), kinds: ['CREDENTIAL_EXPIRING'] } });
      // Two credentials whose tokens expire in 30 and 40 days by the real clock: ACTIVE now.
      const { organizationId, addCredential } = await organizationOnDouble(api, gitlab, 'expiry/platform');
      const first = await addCredential('exp-bot1', 30);
      const second = await addCredential('exp-bot2', 40);
      const statuses = async () =>
        Object.fromEntries(
          (await api.ok(api.rootToken, credentials, { organizationId })).credentials.map((c: { id: string; status: string }) => [c.id, c.status]),
        );
      expect(await statuses()).toEqual({ [first]: 'ACTIVE', [second]: 'ACTIVE' });
      const expiringEvents = async () =>
        (await api.service.backplane.store.readAll({ filter: { eventTypes: ['CredentialExpiring'] } })).map((event) => ({
          data: event.data,
          actor: (event.metadata.actor as { kind: string }).kind,
        }));

      // 20 days on, the first token has 10 days left: recorded, shown and told; the second has 20.
      clockOffsetDays = 20;
      await eventually(() => expect(hooks.accepted).toHaveLength(1), 30_000);
      expect(hooks.accepted[0].body).toMatchObject({
        kind: 'CREDENTIAL_EXPIRING',
        eventType: 'CredentialExpiring',
        fields: { credentialId: first, organizationId, expiresAt: day(30) },
      });
      expect(hooks.accepted[0].body.text).toBe(`[Backplane] The token of credential ${first} expires on ${day(30)}: make a new one`);
      expect(await expiringEvents()).toEqual([{ data: { credentialId: first, organizationId, expiresAt: day(30) }, actor: 'system' }]);
      // The notice may go out before the credentials' read model has applied the event.
      await eventually(async () => expect(await statuses()).toEqual({ [first]: 'EXPIRING', [second]: 'ACTIVE' }));

      // A verification that finds the same expiry day tells nothing new.
      await api.ok(api.rootToken, ops.verifyCredential, { id: first });

      // 30 days on, the second token enters its last days; the first was looked at again and again meanwhile, and not told twice.
      clockOffsetDays = 30;
      await eventually(() => expect(hooks.accepted).toHaveLength(2), 30_000);
      expect(hooks.accepted[1].body.fields).toMatchObject({ credentialId: second, expiresAt: day(40) });
      expect((await expiringEvents()).map((event) => event.data)).toEqual([
        { credentialId: first, organizationId, expiresAt: day(30) },
        { credentialId: second, organizationId, expiresAt: day(40) },
      ]);
      await eventually(async () => expect(await statuses()).toEqual({ [first]: 'EXPIRING', [second]: 'EXPIRING' }));
      expect(new Set(hooks.received.map((hook) => hook.eventId)).size).toBe(2);
    } finally {
      await hooks.close();
    }
  });
});
