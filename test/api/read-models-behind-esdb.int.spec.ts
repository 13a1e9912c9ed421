import { eventually } from '../support/eventually';
import { startEsdbService, type EsdbService } from '../support/esdb-service';

/** How long a change waits here for the read models (ms), instead of 30 s. */
const SETTLE_MS = 1500;

/**
 * On EventStoreDB the read models follow the log asynchronously. A command whose rule looks up
 * facts in them (a device's name is unique in the tenant) first waits until they include every
 * change committed: while they are stuck behind (EventStoreDB's test double holds back what its
 * live subscriptions hear), it is refused as one sent while they catch up is, to be sent again,
 * and nothing is written.
 */
describe('a command whose read models are stuck behind the log, on EventStoreDB (test double)', () => {
  let esdb: EsdbService;
  const register = (name: string) => esdb.request('mutation($name: String!) { registerDevice(input: { name: $name }) { id name } }', { name });
  const devicesInLog = async () =>
    (await esdb.service.backplane.store.readAll()).filter((event) => event.type === 'DeviceRegistered').map((event) => (event.data as { name: string }).name);

  beforeAll(async () => {
    esdb = await startEsdbService({ settleTimeoutMs: SETTLE_MS });
  });
  afterAll(async () => {
    await esdb?.close();
  });

  it('refuses it as UNAVAILABLE with a retry hint, writes nothing, and takes it once they have caught up', async () => {
    expect((await register('first')).errors).toBeUndefined();
    const before = await devicesInLog();
    expect(before).toContain('first');
    const release = esdb.double.holdLive();
    try {
      // Written, but the read models never hear of it while held: its own answer cannot show it.
      const written = await register('second');
      expect(written.errors?.[0]?.extensions?.code).toBe('CHANGE_NOT_SHOWN');
      // /readyz finds them stuck, but nothing told this process they are catching up (they are live,
      // as current as they know): the API lets the command in, and its own wait refuses it.
      const ready = await fetch(new URL('/readyz', esdb.service.server.url));
      expect(ready.status).toBe(503);
      const { projections } = (await ready.json()) as { projections: { name: string; current: boolean }[] };
      expect(projections.filter((projection) => !projection.current)).toEqual([]);
      const refused = await register('third');
      expect(refused.errors).toHaveLength(1);
      expect(refused.errors![0].message).toMatch(/^the read models are catching up with the log \(.+\): nothing was written; try again in \d+ s$/);
      expect(refused.errors![0].extensions).toMatchObject({ code: 'UNAVAILABLE', retryAfterMs: expect.any(Number) });
      expect(await devicesInLog()).toEqual([...before, 'second']);
    } finally {
      release();
    }
    await eventually(async () => expect((await register('third')).errors).toBeUndefined());
    expect(await devicesInLog()).toEqual([...before, 'second', 'third']);
    const listed = await esdb.request('{ devices { name } }');
    expect(listed.data?.devices.map((device: { name: string }) => device.name).sort()).toEqual([...before, 'second', 'third'].sort());
  });
});
