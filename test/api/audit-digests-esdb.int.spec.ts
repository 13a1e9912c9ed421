import { verify } from 'node:crypto';
import type { Service } from '../../src/service';
import { startEsdbService, type EsdbService } from '../support/esdb-service';

/**
 * On EventStoreDB the digests and keys live in the read models' database (PGlite here) and sign
 * the stream heads EventStoreDB holds. EventStoreDB is the EventStoreDB test double: no server runs here.
 */
describe('signed audit digests with the log on EventStoreDB (test double)', () => {
  let esdb: EsdbService;
  let service: Service;

  const graphql = async (query: string, variables: Record<string, unknown> = {}) => {
    const body = await esdb.request(query, variables);
    expect(body.errors).toBeUndefined();
    return body.data!;
  };

  beforeAll(async () => {
    esdb = await startEsdbService();
    service = esdb.service;
  });
  afterAll(async () => {
    await esdb?.close();
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
