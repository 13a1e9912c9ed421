import { randomBytes, verify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { startService, type Service } from '../../src/service';
import { EsdbDouble } from '../support/esdb-double/server';

/**
 * On EventStoreDB the digests and keys live in the read models' database (PGlite here) and sign
 * the stream heads EventStoreDB holds. EventStoreDB is the EventStoreDB test double: no server runs here.
 */
describe('signed audit digests with the log on EventStoreDB (test double)', () => {
  let double: EsdbDouble;
  let folder: string;
  let service: Service;
  const token = `bpk_test_${randomBytes(24).toString('base64url')}`;

  const graphql = async (query: string, variables: Record<string, unknown> = {}) => {
    const response = await fetch(service.server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data: Record<string, any>; errors?: unknown[] };
    expect(body.errors).toBeUndefined();
    return body.data;
  };

  beforeAll(async () => {
    double = await EsdbDouble.start();
    folder = await mkdtemp(join(tmpdir(), 'backplane-esdb-digests-'));
    const config = loadConfig({
      BACKPLANE_EVENT_STORE: 'esdb',
      BACKPLANE_ESDB_URL: double.connectionString,
      BACKPLANE_DATA_DIR: folder,
      BACKPLANE_MASTER_KEY: randomBytes(32).toString('base64'),
      BACKPLANE_BOOTSTRAP_TOKEN: token,
      PORT: '0',
    });
    service = await startService(config, { host: '127.0.0.1' });
  });
  afterAll(async () => {
    await service?.close();
    await double?.stop();
    await rm(folder, { recursive: true, force: true });
  });

  it("signs the heads of the tenant's streams as EventStoreDB holds them, and verifies them", async () => {
    await graphql('mutation { registerDevice(input: { name: "nas" }) { id } }');
    const { createAuditDigest: digest } = await graphql(
      'mutation { createAuditDigest { payload signature keyId eventCount streams { stream revision hash } } }',
    );
    const events = await service.backplane.store.readAll();
    expect(digest.streams.length).toBeGreaterThan(1);
    for (const head of digest.streams) {
      const [event] = await service.backplane.store.readStream(head.stream, { fromRevision: BigInt(head.revision), maxCount: 1 });
      expect(event.hash).toBe(head.hash);
    }
    expect(digest.eventCount).toBe(events.filter((event) => event.metadata.tenantId === JSON.parse(digest.payload).tenantId).length);
    const keys = (await (await fetch(new URL('/.well-known/backplane-audit-keys.json', service.server.url))).json()) as { keys: { publicKeyPem: string }[] };
    expect(verify(null, Buffer.from(digest.payload, 'utf8'), keys.keys[0].publicKeyPem, Buffer.from(digest.signature, 'base64'))).toBe(true);
    expect((await graphql('query { verifyAuditLog { ok digestsChecked } }')).verifyAuditLog).toEqual({ ok: true, digestsChecked: 1 });
  });
});
