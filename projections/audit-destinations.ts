import type { Projection } from '../src/core/projection';
import { type AuditDestinationAddition, type AuditDestinationEvent, maskedUrl, urlSha256 } from '../src/domain/audit-destination';
import { shredStatement } from '../src/secrets/vault';
import { actorJson, dataOf, eventContext } from './event-context';

/**
 * The SIEM endpoints tenants added: where events go (masked, and the vault entry of the whole
 * URL), which ones, the password entry whose secret signs them (never the secret), who added and
 * removed each, and the log position of its addition, where its delivery starts. A removal
 * destroys the encrypted URL.
 */
export const auditDestinationsProjection: Projection = {
  name: 'audit-destinations',
  version: 2,
  tables: ['audit_destinations'],
  schema: [
    `CREATE TABLE audit_destinations (
       id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       name text NOT NULL,
       masked_url text NOT NULL,
       url_sha256 text NOT NULL,
       url_secret_id uuid,
       event_types jsonb,
       password_id uuid NOT NULL,
       added_position text NOT NULL,
       added_at timestamptz NOT NULL,
       added_by jsonb NOT NULL,
       removed_at timestamptz,
       removed_by jsonb)`,
    'CREATE INDEX audit_destinations_tenant ON audit_destinations (tenant_id)',
  ],
  filter: { streamPrefixes: ['audit-destination-'] },
  apply(recorded) {
    const context = eventContext(recorded);
    const event = { type: recorded.type, data: dataOf(recorded) } as AuditDestinationEvent;
    switch (event.type) {
      case 'AuditDestinationAdded': {
        const { id, name, eventTypes, passwordId, addedAt } = event.data;
        const { maskedUrl, urlSha256, urlSecretId } = urlOf(event.data);
        return [
          {
            sql: `INSERT INTO audit_destinations
                    (id, tenant_id, name, masked_url, url_sha256, url_secret_id, event_types, password_id, added_position, added_at, added_by)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
            params: [
              id,
              context.tenantId,
              name,
              maskedUrl,
              urlSha256,
              urlSecretId,
              eventTypes === null ? null : JSON.stringify(eventTypes),
              passwordId,
              recorded.position,
              addedAt,
              actorJson(context),
            ],
          },
        ];
      }
      case 'AuditDestinationRemoved':
        return [
          {
            sql: 'UPDATE audit_destinations SET removed_at = $2, removed_by = $3 WHERE id = $1',
            params: [event.data.id, context.occurredAt, actorJson(context)],
          },
          ...(event.data.urlSecretId ? [shredStatement(event.data.urlSecretId)] : []),
        ];
      default:
        return [];
    }
  },
};

/**
 * Additions recorded before the URL went to the vault carry it whole, in `url`: the read model
 * shows it masked like the others, and without a vault entry it is not delivered to (the API
 * says so in lastError) until it is added again.
 */
function urlOf(data: AuditDestinationAddition & { url?: string }): { maskedUrl: string; urlSha256: string; urlSecretId: string | null } {
  if (data.urlSecretId !== undefined) return data;
  const url = data.url ?? '';
  return { maskedUrl: maskedUrl(url), urlSha256: urlSha256(url), urlSecretId: null };
}
