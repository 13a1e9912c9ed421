import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { GitLabDouble } from '../support/gitlab-double';
import { organizationOnDouble } from './expiring-tokens';

const DAY_MS = 86_400_000;
const CREDENTIALS = 4;

// Two processes on one PostgreSQL database, as a deployment scales out; PGlite serves one process only.
const describeOnPostgres = apiStores.includes('postgres') ? describe : describe.skip;

describeOnPostgres('the credential expiry check of two processes on one database', () => {
  let storage: TestStorage;
  let gitlab: GitLabDouble;
  const apis: TestApi[] = [];

  beforeAll(async () => {
    storage = await testStorage('postgres');
    gitlab = await GitLabDouble.start();
  });
  afterAll(async () => {
    for (const api of apis) await api.close();
    await gitlab?.close();
    await storage?.dispose();
  });

  it('records CredentialExpiring once per credential, however many processes look', async () => {
    // Both look every 50 ms, 20 days ahead: a token with 30 days left by the real clock is in its last 14.
    const options = { gitlab, env: { BACKPLANE_SYNC_CHECK_MS: '50' }, service: { scheduleClock: () => new Date(Date.now() + 20 * DAY_MS) } };
    const a = await startTestApi(storage, options);
    apis.push(a);
    apis.push(await startTestApi(storage, { ...options, rootToken: a.rootToken }));

    const { addCredential } = await organizationOnDouble(a, gitlab, 'twice/platform');
    const recorded = async () =>
      (await a.service.backplane.store.readAll({ filter: { eventTypes: ['CredentialExpiring'] } })).map(
        (event) => (event.data as { credentialId: string }).credentialId,
      );

    const ids: string[] = [];
    for (let i = 0; i < CREDENTIALS; i++) ids.push(await addCredential(`twice-bot${i}`, 30));
    await eventually(async () => expect((await recorded()).sort()).toEqual([...ids].sort()), 30_000);
    // One more, later: both processes have looked again and again at the first ones by the time it is recorded.
    const last = await addCredential('twice-late', 25);
    await eventually(async () => expect(await recorded()).toContain(last), 30_000);
    expect((await recorded()).sort()).toEqual([...ids, last].sort());
  }, 120_000);
});
