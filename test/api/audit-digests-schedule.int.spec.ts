import { writeDueDigests } from '../../src/app/audit-digests';
import { eventually } from '../support/eventually';
import { startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';

const LIST = 'query { auditDigests(first: 10) { edges { node { periodStart periodEnd eventCount } } } }';
const HOUR = 60 * 60_000;

/** The schedule as the service runs it: its clock set past the end of the tenant's first period. */
describe('scheduled audit digests', () => {
  let storage: TestStorage;
  let api: TestApi;
  let now: Date;

  beforeAll(async () => {
    storage = await testStorage('pglite');
    now = new Date(Date.now() + 2 * HOUR);
    api = await startTestApi(storage, { env: { BACKPLANE_SYNC_CHECK_MS: '50' }, service: { scheduleClock: () => now } });
  });
  afterAll(async () => {
    await api?.close();
    await storage?.dispose();
  });

  it('writes the digest of a period once it is over, once, and the next one when the next period is over', async () => {
    const digests = async () => (await api.ok(api.rootToken, LIST)).auditDigests.edges.map((edge: { node: unknown }) => edge.node);
    const [first] = await eventually(async () => {
      const found = await digests();
      expect(found).toHaveLength(1);
      return found;
    });
    expect(first).toMatchObject({ periodEnd: now.toISOString() });
    expect(first.eventCount).toBeGreaterThan(0);
    // Every process looks: the period is served already.
    expect(await writeDueDigests(api.service.app)).toEqual([]);
    const next = new Date(now.getTime() + HOUR);
    now = next;
    await eventually(async () => expect(await digests()).toHaveLength(2));
    expect((await digests())[1]).toMatchObject({ periodStart: first.periodEnd, periodEnd: next.toISOString(), eventCount: 0 });
  });
});
