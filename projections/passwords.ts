import type { Projection } from '../src/core/projection';
import type { PasswordEvent } from '../src/domain/password';
import { shredStatement as shred } from '../src/secrets/vault';
import { dataOf, eventContext } from './event-context';

/**
 * The password manager's entries: names, descriptions and fingerprints, never secrets. Applying a
 * change or a deletion destroys the encrypted copy it replaces, in the same transaction as the
 * checkpoint, so that a crash cannot leave a deleted secret behind.
 */
export const passwordsProjection: Projection = {
  name: 'passwords',
  version: 1,
  tables: ['passwords'],
  schema: [
    `CREATE TABLE passwords (
       id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       name text NOT NULL,
       description text NOT NULL,
       fingerprint text NOT NULL,
       secret_id uuid,
       created_at timestamptz NOT NULL,
       updated_at timestamptz NOT NULL,
       deleted_at timestamptz)`,
    'CREATE INDEX passwords_tenant ON passwords (tenant_id)',
  ],
  filter: { streamPrefixes: ['password-'] },
  apply(recorded) {
    const { tenantId, occurredAt } = eventContext(recorded);
    const event = { type: recorded.type, data: dataOf(recorded) } as PasswordEvent;
    switch (event.type) {
      case 'PasswordStored': {
        const { passwordId, name, description, fingerprint, secretId } = event.data;
        return [
          {
            sql: `INSERT INTO passwords (id, tenant_id, name, description, fingerprint, secret_id, created_at, updated_at)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
            params: [passwordId, tenantId, name, description, fingerprint, secretId, occurredAt],
          },
        ];
      }
      case 'PasswordChanged':
        return [
          {
            sql: 'UPDATE passwords SET fingerprint = $2, secret_id = $3, updated_at = $4 WHERE id = $1',
            params: [event.data.passwordId, event.data.fingerprint, event.data.secretId, occurredAt],
          },
          shred(event.data.previousSecretId),
        ];
      case 'PasswordDescribed':
        return [
          {
            sql: "UPDATE passwords SET description = coalesce($2, ''), updated_at = $3 WHERE id = $1",
            params: [event.data.passwordId, event.data.description, occurredAt],
          },
        ];
      case 'PasswordDeleted':
        return [
          { sql: 'UPDATE passwords SET secret_id = NULL, deleted_at = $2, updated_at = $2 WHERE id = $1', params: [event.data.passwordId, occurredAt] },
          shred(event.data.secretId),
        ];
      default:
        return [];
    }
  },
};
