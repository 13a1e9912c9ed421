import { randomUUID } from 'node:crypto';
import { commandContext, systemPrincipal } from '../../src/app/principal';
import { recordExpiringCredentials } from '../../src/app/credential-expiry';
import { silentLogger } from '../../src/core/logger';
import { organization, organizationStream } from '../../src/domain/organization';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { GitLabDouble } from '../support/gitlab-double';
import { ops } from '../support/scenario';
import { organizationOnDouble } from './expiring-tokens';

const DAY_MS = 86_400_000;

describe.each(apiStores)('the credential expiry check after a removal of an organization stopped half-way, on %s', (store) => {
  let storage: TestStorage;
  let gitlab: GitLabDouble;
  let api: TestApi;

  beforeAll(async () => {
    storage = await testStorage(store);
    gitlab = await GitLabDouble.start();
    api = await startTestApi(storage, { gitlab });
  });
  afterAll(async () => {
    await api?.close();
    await gitlab?.close();
    await storage?.dispose();
  });

  it('records nothing for the credentials of a removed organization that were not removed themselves', async () => {
    const { organizationId, addCredential } = await organizationOnDouble(api, gitlab, 'halfway/platform');
    // 30 days from now by the real clock: the scheduled check, on the real clock, leaves it alone.
    const credentialId = await addCredential('halfway-bot', 30);
    const tenantId = (await api.ok(api.rootToken, ops.me)).me.tenant.id as string;
    // The organization's removal is recorded, and the process ends before its credentials are removed.
    const { position } = await api.service.backplane.commands.handle(
      organization,
      organizationStream(organizationId),
      { type: 'RemoveOrganization', data: { organizationId } },
      commandContext(systemPrincipal(tenantId), randomUUID()),
    );
    await api.service.app.settle(position!);
    const credentialRow = await api.service.backplane.db.query<{ removed_at: Date | null }>('SELECT removed_at FROM credentials WHERE id = $1', [credentialId]);
    expect(credentialRow).toEqual([{ removed_at: null }]);

    // 20 days on, the token would be in its last 14 days.
    const recorded = await recordExpiringCredentials(api.service.app, silentLogger, new Date(Date.now() + 20 * DAY_MS));
    expect(recorded).toBe(0);
    expect(await api.service.backplane.store.readAll({ filter: { eventTypes: ['CredentialExpiring'] } })).toEqual([]);
  });
});
