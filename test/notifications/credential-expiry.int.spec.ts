import { apiStores, startTestApi, testStorage, type StoreName, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { gitlabAccount, gitlabGroup } from '../support/gitlab-accounts';
import { GitLabDouble } from '../support/gitlab-double';
import { ops, secretValue } from '../support/scenario';
import { startHookReceiver } from './receivers';

const FAST = { minBackoffMs: 20, maxBackoffMs: 200, scanEveryMs: 50, timeoutMs: 5000 };
const DAY_MS = 86_400_000;
const addChannel = 'mutation($input: AddNotificationChannelInput!) { addNotificationChannel(input: $input) { id } }';
const credentials = 'query($organizationId: ID!) { credentials(organizationId: $organizationId) { id login status token { expiresAt } } }';
const day = (offsetDays: number) => new Date(Date.now() + offsetDays * DAY_MS).toISOString().slice(0, 10);

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
      const secrets = [secretValue('exp-main'), secretValue('exp-bot1'), secretValue('exp-bot2')];
      const passwordIds: string[] = [];
      for (const [i, secret] of secrets.entries())
        passwordIds.push((await api.ok(api.rootToken, ops.storePassword, { input: { name: `expiry ${i}`, secret } })).storePassword.id);
      gitlabGroup(gitlab, 'expiry/platform');
      gitlabAccount(gitlab, 'exp-admin', secrets[0]);
      gitlabAccount(gitlab, 'exp-bot1', secrets[1], { expiresAt: day(30) });
      gitlabAccount(gitlab, 'exp-bot2', secrets[2], { expiresAt: day(40) });
      const localDevice = (await api.ok(api.rootToken, ops.devices)).devices.find((d: { name: string }) => d.name === 'local').id;
      const { addOrganization: organization } = await api.ok(api.rootToken, ops.addOrganization, {
        input: {
          name: 'expiry/platform',
          gitlabUrl: gitlab.url,
          authMethod: 'TOKEN',
          login: 'exp-admin',
          passwordId: passwordIds[0],
          defaultDeviceId: localDevice,
          repositoriesSync: { intervalMinutes: 1440 },
        },
      });
      const addCredential = async (login: string, passwordId: string) =>
        (await api.ok(api.rootToken, ops.addCredential, { input: { organizationId: organization.id, login, passwordId } })).addCredential.id as string;
      const first = await addCredential('exp-bot1', passwordIds[1]);
      const second = await addCredential('exp-bot2', passwordIds[2]);
      const statuses = async () =>
        Object.fromEntries(
          (await api.ok(api.rootToken, credentials, { organizationId: organization.id })).credentials.map((c: { id: string; status: string }) => [
            c.id,
            c.status,
          ]),
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
        fields: { credentialId: first, organizationId: organization.id, expiresAt: day(30) },
      });
      expect(hooks.accepted[0].body.text).toBe(`[Backplane] The token of credential ${first} expires on ${day(30)}: make a new one`);
      expect(await expiringEvents()).toEqual([{ data: { credentialId: first, organizationId: organization.id, expiresAt: day(30) }, actor: 'system' }]);
      expect(await statuses()).toEqual({ [first]: 'EXPIRING', [second]: 'ACTIVE' });

      // A verification that finds the same expiry day tells nothing new.
      await api.ok(api.rootToken, ops.verifyCredential, { id: first });

      // 30 days on, the second token enters its last days; the first was looked at again and again meanwhile, and not told twice.
      clockOffsetDays = 30;
      await eventually(() => expect(hooks.accepted).toHaveLength(2), 30_000);
      expect(hooks.accepted[1].body.fields).toMatchObject({ credentialId: second, expiresAt: day(40) });
      expect((await expiringEvents()).map((event) => event.data)).toEqual([
        { credentialId: first, organizationId: organization.id, expiresAt: day(30) },
        { credentialId: second, organizationId: organization.id, expiresAt: day(40) },
      ]);
      expect(await statuses()).toEqual({ [first]: 'EXPIRING', [second]: 'EXPIRING' });
      expect(new Set(hooks.received.map((hook) => hook.eventId)).size).toBe(2);
    } finally {
      await hooks.close();
    }
  });
});
