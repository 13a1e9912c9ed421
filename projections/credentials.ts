import type { Projection } from '../src/core/projection';
import type { CredentialEvent } from '../src/domain/credential';
import { actorJson, dataOf, eventContext } from './event-context';

export const credentialsProjection: Projection = {
  name: 'credentials',
  version: 1,
  tables: ['credentials'],
  schema: [
    `CREATE TABLE credentials (
       id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       organization_id uuid NOT NULL,
       login text NOT NULL,
       password_id uuid NOT NULL,
       added_at timestamptz NOT NULL,
       added_by jsonb NOT NULL,
       removed_at timestamptz)`,
    'CREATE INDEX credentials_organization ON credentials (tenant_id, organization_id)',
  ],
  filter: { streamPrefixes: ['credential-'] },
  apply(recorded) {
    const context = eventContext(recorded);
    const event = { type: recorded.type, data: dataOf(recorded) } as CredentialEvent;
    switch (event.type) {
      case 'CredentialAdded': {
        const { credentialId, organizationId, login, passwordId } = event.data;
        return [
          {
            sql: 'INSERT INTO credentials (id, tenant_id, organization_id, login, password_id, added_at, added_by) VALUES ($1, $2, $3, $4, $5, $6, $7)',
            params: [credentialId, context.tenantId, organizationId, login, passwordId, context.occurredAt, actorJson(context)],
          },
        ];
      }
      case 'CredentialRemoved':
        return [{ sql: 'UPDATE credentials SET removed_at = $2 WHERE id = $1', params: [event.data.credentialId, context.occurredAt] }];
      default:
        return [];
    }
  },
};
