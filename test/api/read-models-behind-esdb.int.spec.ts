import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { startService, type Service } from '../../src/service';
import { EsdbDouble } from '../support/esdb-double/server';
import { eventually } from '../support/eventually';

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
  let double: EsdbDouble;
  let folder: string;
  let service: Service;
  const token = `bpk_test_${randomBytes(24).toString('base64url')}`;

  const request = async (query: string, variables: Record<string, unknown> = {}) => {
    const response = await fetch(service.server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
  };
  const register = (name: string) => request('mutation($name: String!) { registerDevice(input: { name: $name }) { id name } }', { name });
  const devicesInLog = async () =>
    (await service.backplane.store.readAll()).filter((event) => event.type === 'DeviceRegistered').map((event) => (event.data as { name: string }).name);

  beforeAll(async () => {
    double = await EsdbDouble.start();
    folder = await mkdtemp(join(tmpdir(), 'backplane-esdb-behind-'));
    const config = loadConfig({
      BACKPLANE_EVENT_STORE: 'esdb',
      BACKPLANE_ESDB_URL: double.connectionString,
      BACKPLANE_DATA_DIR: folder,
      BACKPLANE_MASTER_KEY: randomBytes(32).toString('base64'),
      BACKPLANE_BOOTSTRAP_TOKEN: token,
      PORT: '0',
    });
    service = await startService(config, { host: '127.0.0.1', settleTimeoutMs: SETTLE_MS });
  });
  afterAll(async () => {
    await service?.close();
    await double?.stop();
    await rm(folder, { recursive: true, force: true });
  });

  it('refuses it as UNAVAILABLE with a retry hint, writes nothing, and takes it once they have caught up', async () => {
    expect((await register('first')).errors).toBeUndefined();
    const before = await devicesInLog();
    expect(before).toContain('first');
    const release = double.holdLive();
    try {
      // Written, but the read models never hear of it while held: its own answer cannot show it.
      const written = await register('second');
      expect(written.errors?.[0]?.extensions?.code).toBe('CHANGE_NOT_SHOWN');
      // /readyz finds them stuck, but nothing told this process they are catching up (they are live,
      // as current as they know): the API lets the command in, and its own wait refuses it.
      const ready = await fetch(new URL('/readyz', service.server.url));
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
    const listed = await request('{ devices { name } }');
    expect(listed.data?.devices.map((device: { name: string }) => device.name).sort()).toEqual([...before, 'second', 'third'].sort());
  });
});
