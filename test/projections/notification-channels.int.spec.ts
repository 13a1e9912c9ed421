import { randomBytes, randomUUID } from 'node:crypto';
import { notificationChannelsProjection } from '../../projections/notification-channels';
import { ProjectionRunner } from '../../src/core/projection-runner';
import { type NotificationChannelEvent, notificationChannel, notificationChannelStream } from '../../src/domain/notification-channel';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import { SecretVault } from '../../src/secrets/vault';
import type { SqlDatabase } from '../../src/sql/database';
import { dropTestSchemas, testDatabases } from '../support/databases';
import { readable } from '../support/readable';

afterAll(dropTestSchemas);

const metadata = (tenantId: string) => ({
  tenantId,
  actor: { kind: 'api-token', id: 't-1', name: 'ops', role: 'ADMIN' },
  occurredAt: '2026-12-01T10:00:00.000Z',
});

for (const database of testDatabases) {
  describe(`notification channels read model on ${database.name}`, () => {
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

    it('shows a webhook masked and an address whole, who added and removed them, and destroys a removed webhook’s encrypted URL', async () => {
      const tenantId = 'tenant-a';
      const token = `tok-${randomBytes(12).toString('base64url')}`;
      const url = `https://hooks.example.test/services/T0/B0/${token}`;
      const urlSecretId = await vault.put(tenantId, url);
      const hookId = randomUUID();
      const mailId = randomUUID();
      const decide = (command: Parameters<typeof notificationChannel.decide>[0], past: NotificationChannelEvent[] = []) =>
        notificationChannel.decide(command, past.reduce(notificationChannel.evolve, notificationChannel.initialState()));
      const known = { nameTaken: false, channels: 0 };
      const addedAt = '2026-12-01T10:00:00.000Z';
      const hookAdded = decide({
        type: 'AddNotificationChannel',
        data: { id: hookId, name: 'hook', target: { type: 'WEBHOOK', url, urlSecretId }, kinds: ['TASK_FAILED'], addedAt, known },
      });
      const hookRemoved = decide({ type: 'RemoveNotificationChannel', data: { id: hookId } }, hookAdded);
      const mailAdded = decide({
        type: 'AddNotificationChannel',
        data: { id: mailId, name: 'mail', target: { type: 'EMAIL', address: 'ops@example.test' }, kinds: ['SYNC_FAILED', 'TASK_FAILED'], addedAt, known },
      });
      await store.appendToStream(
        notificationChannelStream(hookId),
        [...hookAdded, ...hookRemoved].map((event) => ({ ...event, metadata: metadata(tenantId) })) as never,
      );
      const last = await store.appendToStream(
        notificationChannelStream(mailId),
        mailAdded.map((event) => ({ ...event, metadata: metadata(tenantId) })) as never,
      );
      await readable(store, last.position);

      expect(await new ProjectionRunner({ store, db, projection: notificationChannelsProjection }).catchUp()).toBe(true);
      const rows = await db.query<Record<string, unknown>>(
        'SELECT id, name, target, kinds, added_by, removed_at IS NOT NULL AS removed, removed_by FROM notification_channels ORDER BY name',
      );
      const json = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value);
      expect(
        rows.map((row) => ({ ...row, target: json(row.target), kinds: json(row.kinds), added_by: json(row.added_by), removed_by: json(row.removed_by) })),
      ).toEqual([
        {
          id: hookId,
          name: 'hook',
          target: { type: 'WEBHOOK', shownUrl: 'https://hooks.example.test/***/***/***/***', urlSecretId },
          kinds: ['TASK_FAILED'],
          added_by: expect.objectContaining({ id: 't-1', role: 'ADMIN' }),
          removed: true,
          removed_by: expect.objectContaining({ id: 't-1', role: 'ADMIN' }),
        },
        {
          id: mailId,
          name: 'mail',
          target: { type: 'EMAIL', address: 'ops@example.test' },
          kinds: ['TASK_FAILED', 'SYNC_FAILED'],
          added_by: expect.objectContaining({ id: 't-1' }),
          removed: false,
          removed_by: null,
        },
      ]);
      expect(JSON.stringify(await db.query('SELECT * FROM notification_channels'))).not.toContain(token);
      expect(await db.query('SELECT 1 FROM password_secrets WHERE secret_id = $1', [urlSecretId])).toEqual([]);
    });
  });
}
