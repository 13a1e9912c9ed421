import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTs, type Child } from '../support/child';
import { eventually } from '../support/eventually';
import { ops } from '../support/scenario';
import { deduplicated, startReceiver } from './receiver';

const MAIN = join(__dirname, '..', '..', 'src', 'main.ts');
const MASTER_KEY = randomBytes(32).toString('base64');
const ROOT_TOKEN = `bpk_crash_${randomBytes(24).toString('base64url')}`;
const DEVICES = 30;

/** What `npm start` runs, as a process of its own that the test can kill -9. */
function start(dataDir: string): Child {
  return spawnTs(MAIN, [], {
    BACKPLANE_DATA_DIR: dataDir,
    PORT: '0',
    BACKPLANE_MASTER_KEY: MASTER_KEY,
    BACKPLANE_BOOTSTRAP_TOKEN: ROOT_TOKEN,
    BACKPLANE_EVENT_STORE: 'pglite',
    BACKPLANE_POLL_INTERVAL_MS: '20',
  });
}

async function clientOf(child: Child) {
  const line = await child.waitFor(/Backplane GraphQL API: http:\/\//, 90_000);
  const url = line.slice(line.indexOf('http://')).trim();
  return async (query: string, variables?: Record<string, unknown>) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ROOT_TOKEN}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: any; errors?: unknown[] };
    if (body.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
    return body.data;
  };
}

describe('deliveries to a SIEM destination when Backplane is killed with SIGKILL mid-stream', () => {
  const secret = `siem-secret-${randomBytes(18).toString('base64url')}`;
  let dataDir: string;
  let running: Child | null = null;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'backplane-delivery-crash-'));
  });
  afterAll(async () => {
    running?.process.kill('SIGKILL');
    await running?.exited;
    await rm(dataDir, { recursive: true, force: true });
  });

  it('loses nothing: after a restart the receiver has every event, in order, signed', async () => {
    // Slow answers keep the stream under way when the process dies.
    const receiver = await startReceiver(secret, () => 200, 40);
    try {
      running = start(dataDir);
      let call = await clientOf(running);
      const { storePassword } = await call(ops.storePassword, { input: { name: 'siem secret', secret } });
      await call('mutation($input: AddAuditDestinationInput!) { addAuditDestination(input: $input) { id } }', {
        input: { name: 'siem', url: receiver.url(), passwordId: storePassword.id },
      });
      const names = Array.from({ length: DEVICES }, (_, i) => `device-${i}`);
      for (const name of names) await call(ops.registerDevice, { name });
      await eventually(() => expect(deduplicated(receiver.accepted).length).toBeGreaterThanOrEqual(3), 60_000);
      running.process.kill('SIGKILL');
      await running.exited;
      const beforeRestart = deduplicated(receiver.accepted).length;
      expect(beforeRestart).toBeLessThan(DEVICES);

      running = start(dataDir);
      call = await clientOf(running);
      const registered = (delivered: ReturnType<typeof deduplicated>) =>
        delivered.filter((d) => d.type === 'DeviceRegistered').map((d) => (d.event as unknown as { data: { name: string } }).data.name);
      await eventually(() => expect(registered(deduplicated(receiver.accepted))).toEqual(names), 50_000, 200);
      expect(receiver.received.every((d) => d.signatureValid)).toBe(true);
      // The checkpoint moves just after the receiver's answer: it may trail the last acceptance for a moment.
      await eventually(async () => {
        const { auditDestinations } = await call('query { auditDestinations { delivery { lastDeliveredPosition failingSince } } }');
        expect(auditDestinations[0].delivery.lastDeliveredPosition).toBe(deduplicated(receiver.accepted).at(-1)!.event.position);
      });
      expect(running.output()).not.toContain(secret);
    } finally {
      await receiver.close();
    }
  }, 180_000);
});
