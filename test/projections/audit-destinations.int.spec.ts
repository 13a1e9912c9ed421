import { randomBytes, randomUUID } from 'node:crypto';
import { auditDestinationsProjection } from '../../projections/audit-destinations';
import { ProjectionRunner } from '../../src/core/projection-runner';
import { auditDestination, auditDestinationStream } from '../../src/domain/audit-destination';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import { SecretVault } from '../../src/secrets/vault';
import type { SqlDatabase } from '../../src/sql/database';
import { dropTestSchemas, testDatabases } from '../support/databases';
import { readable } from '../support/readable';

afterAll(dropTestSchemas);

const metadata = (tenantId: string) => ({ tenantId, actor: { kind: 'api-token', id: 't-1' }, occurredAt: '2026-12-01T10:00:00.000Z' });

for (const database of testDatabases) {
  describe(`audit destinations read model on ${database.name}`, () => {
    let db: SqlDatabase;
    let store: SqlEventStore;
    let vault: SecretVault;
    beforeAll(async () => {
      db = await database.open();
      store = await SqlEventStore.open(db);
      vault = await SecretVault.open(db, randomBytes(32));
    });
    afterAll(async () => {
      await db.close();
    });

    it('shows a URL masked with its hash, destroys the encrypted URL on removal, and masks an addition that still holds its URL whole', async () => {
      const token = `tok-${randomBytes(12).toString('base64url')}`;
      const url = `https://collectors.example.test/receiver/v1/http/${token}?key=${token}`;
      const tenantId = 'tenant-a';
      const id = randomUUID();
      const urlSecretId = await vault.put(tenantId, url);
      const [added] = auditDestination.decide(
        {
          type: 'AddAuditDestination',
          data: {
            id,
            name: 'siem',
            url,
            urlSecretId,
            eventTypes: null,
            passwordId: randomUUID(),
            addedAt: '2026-12-01T10:00:00.000Z',
            known: { nameTaken: false, passwordExists: true, destinations: 0 },
          },
        },
        auditDestination.initialState(),
      );
      const [removed] = auditDestination.decide(
        { type: 'RemoveAuditDestination', data: { id } },
        auditDestination.evolve(auditDestination.initialState(), added),
      );
      await store.appendToStream(auditDestinationStream(id), [added, removed].map((event) => ({ ...event, metadata: metadata(tenantId) })) as never);

      // As additions were recorded before the URL went to the vault.
      const legacyId = randomUUID();
      const legacy = { id: legacyId, name: 'old', url, eventTypes: null, passwordId: randomUUID(), addedAt: '2026-11-01T10:00:00.000Z' };
      const last = await store.appendToStream(auditDestinationStream(legacyId), [
        { type: 'AuditDestinationAdded', data: legacy, metadata: metadata(tenantId) },
      ]);
      await readable(store, last.position);

      expect(await new ProjectionRunner({ store, db, projection: auditDestinationsProjection }).catchUp()).toBe(true);
      const rows = await db.query<Record<string, unknown>>(
        'SELECT id, masked_url, url_sha256, url_secret_id, removed_at IS NOT NULL AS removed FROM audit_destinations ORDER BY name',
      );
      const masked = 'https://collectors.example.test/***/***/***/***?***';
      const sha = (added.data as { urlSha256: string }).urlSha256;
      expect(rows).toEqual([
        { id: legacyId, masked_url: masked, url_sha256: sha, url_secret_id: null, removed: false },
        { id, masked_url: masked, url_sha256: sha, url_secret_id: urlSecretId, removed: true },
      ]);
      expect(JSON.stringify(await db.query('SELECT * FROM audit_destinations'))).not.toContain(token);
      expect(await db.query('SELECT 1 FROM password_secrets WHERE secret_id = $1', [urlSecretId])).toEqual([]);
    });
  });
}
