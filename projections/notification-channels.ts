import type { Projection } from '../src/core/projection';
import type { NotificationChannelEvent } from '../src/domain/notification-channel';
import { shredStatement as shred } from '../src/secrets/vault';
import { actorJson, dataOf, eventContext } from './event-context';

/**
 * The channels tenants are notified through: a webhook's URL as it may be shown (the whole of it
 * stays in the vault) or an e-mail address, the kinds each wants, who added and removed it, and the
 * log position of its addition, where its notices start. A removed webhook's encrypted URL is
 * destroyed in the same transaction as the checkpoint, so no crash leaves it behind.
 */
export const notificationChannelsProjection: Projection = {
  name: 'notification-channels',
  version: 1,
  tables: ['notification_channels'],
  schema: [
    `CREATE TABLE notification_channels (
       id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       name text NOT NULL,
       target jsonb NOT NULL,
       kinds jsonb NOT NULL,
       added_position text NOT NULL,
       added_at timestamptz NOT NULL,
       added_by jsonb NOT NULL,
       removed_at timestamptz,
       removed_by jsonb)`,
    'CREATE INDEX notification_channels_tenant ON notification_channels (tenant_id)',
  ],
  filter: { streamPrefixes: ['notification-channel-'] },
  apply(recorded) {
    const context = eventContext(recorded);
    const event = { type: recorded.type, data: dataOf(recorded) } as NotificationChannelEvent;
    switch (event.type) {
      case 'NotificationChannelAdded': {
        const { id, name, target, kinds, addedAt } = event.data;
        return [
          {
            sql: `INSERT INTO notification_channels (id, tenant_id, name, target, kinds, added_position, added_at, added_by)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
            params: [id, context.tenantId, name, JSON.stringify(target), JSON.stringify(kinds), recorded.position, addedAt, actorJson(context)],
          },
        ];
      }
      case 'NotificationChannelRemoved':
        return [
          {
            sql: 'UPDATE notification_channels SET removed_at = $2, removed_by = $3 WHERE id = $1',
            params: [event.data.id, context.occurredAt, actorJson(context)],
          },
          ...(event.data.urlSecretId ? [shred(event.data.urlSecretId)] : []),
        ];
      default:
        return [];
    }
  },
};
