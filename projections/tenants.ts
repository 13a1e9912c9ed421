import type { Projection } from '../src/core/projection';
import type { TenantEvent } from '../src/domain/tenant';
import { actorJson, dataOf, eventContext } from './event-context';

/** Tenants and their API tokens (names and roles; the digests live outside the log). */
export const tenantsProjection: Projection = {
  name: 'tenants',
  version: 2,
  tables: ['tenants', 'api_tokens'],
  schema: [
    `CREATE TABLE tenants (
       id text PRIMARY KEY,
       name text NOT NULL,
       root boolean NOT NULL,
       license_seats integer,
       created_at timestamptz NOT NULL)`,
    `CREATE TABLE api_tokens (
       id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       name text NOT NULL,
       role text NOT NULL,
       root boolean NOT NULL,
       created_at timestamptz NOT NULL,
       created_by jsonb NOT NULL,
       revoked_at timestamptz)`,
    'CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id)',
  ],
  filter: { streamPrefixes: ['tenant-'] },
  apply(recorded) {
    const context = eventContext(recorded);
    const event = { type: recorded.type, data: dataOf(recorded) } as TenantEvent;
    switch (event.type) {
      case 'TenantCreated':
        return [
          {
            sql: 'INSERT INTO tenants (id, name, root, created_at) VALUES ($1, $2, $3, $4)',
            params: [event.data.tenantId, event.data.name, event.data.root, context.occurredAt],
          },
        ];
      case 'ApiTokenCreated':
        return [
          {
            // The root administrator is the first token of the root tenant.
            sql: `INSERT INTO api_tokens (id, tenant_id, name, role, root, created_at, created_by)
                  SELECT $1, $2, $3, $4, coalesce((SELECT root FROM tenants WHERE id = $2), false) AND NOT EXISTS (SELECT 1 FROM api_tokens WHERE tenant_id = $2), $5, $6`,
            params: [event.data.tokenId, event.data.tenantId, event.data.name, event.data.role, context.occurredAt, actorJson(context)],
          },
        ];
      case 'ApiTokenRevoked':
        return [{ sql: 'UPDATE api_tokens SET revoked_at = $2 WHERE id = $1', params: [event.data.tokenId, context.occurredAt] }];
      case 'LicenseSeatsSet':
        return [{ sql: 'UPDATE tenants SET license_seats = $2 WHERE id = $1', params: [event.data.tenantId, event.data.limit] }];
      default:
        return [];
    }
  },
};
