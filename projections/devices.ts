import type { Projection } from '../src/core/projection';
import type { DeviceEvent } from '../src/domain/device';
import { actorJson, dataOf, eventContext } from './event-context';

export const devicesProjection: Projection = {
  name: 'devices',
  version: 1,
  tables: ['devices'],
  schema: [
    `CREATE TABLE devices (
       id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       name text NOT NULL,
       built_in boolean NOT NULL,
       registered_at timestamptz NOT NULL,
       registered_by jsonb NOT NULL)`,
    'CREATE INDEX devices_tenant ON devices (tenant_id)',
  ],
  filter: { streamPrefixes: ['device-'] },
  apply(recorded) {
    const context = eventContext(recorded);
    const event = { type: recorded.type, data: dataOf(recorded) } as DeviceEvent;
    switch (event.type) {
      case 'DeviceRegistered':
        return [
          {
            sql: 'INSERT INTO devices (id, tenant_id, name, built_in, registered_at, registered_by) VALUES ($1, $2, $3, $4, $5, $6)',
            params: [event.data.deviceId, context.tenantId, event.data.name, event.data.builtIn, context.occurredAt, actorJson(context)],
          },
        ];
      default:
        return [];
    }
  },
};
