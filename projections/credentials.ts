import type { Projection } from '../src/core/projection';
import type { CredentialEvent } from '../src/domain/credential';
import type { TaskEvent } from '../src/domain/task';
import type { RecordedEvent } from '../src/eventstore/types';
import type { Change, RowKind, RowValue } from '../src/sql/row-batches';
import { applyInBatches, lastWins } from './batched-changes';
import { actorJson, dataOf, eventContext } from './event-context';

export const credentialsProjection: Projection = {
  name: 'credentials',
  version: 3,
  tables: ['credentials'],
  schema: [
    `CREATE TABLE credentials (
       id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       organization_id uuid NOT NULL,
       login text NOT NULL,
       password_id uuid NOT NULL,
       token_scopes jsonb,
       token_expires_at date,
       verified_at timestamptz,
       verification_failure text,
       verification_reason text,
       throttled_until timestamptz,
       token_expiring_for date,
       added_at timestamptz NOT NULL,
       added_by jsonb NOT NULL,
       removed_at timestamptz)`,
    'CREATE INDEX credentials_organization ON credentials (tenant_id, organization_id)',
  ],
  // Tasks say when GitLab made a credential wait.
  filter: { streamPrefixes: ['credential-', 'task-'] },
  apply(recorded) {
    const context = eventContext(recorded);
    const event = { type: recorded.type, data: dataOf(recorded) } as CredentialEvent | Extract<TaskEvent, { type: 'CredentialThrottled' }>;
    switch (event.type) {
      case 'CredentialAdded': {
        const { credentialId, organizationId, login, passwordId, access } = event.data;
        return [
          {
            sql: `INSERT INTO credentials (id, tenant_id, organization_id, login, password_id, added_at, added_by, token_scopes, token_expires_at, verified_at)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
            params: [
              credentialId,
              context.tenantId,
              organizationId,
              login,
              passwordId,
              context.occurredAt,
              actorJson(context),
              access ? JSON.stringify(access.scopes) : null,
              access?.expiresAt ?? null,
              access ? context.occurredAt : null,
            ],
          },
        ];
      }
      case 'CredentialVerified': {
        const { credentialId, scopes, expiresAt } = event.data;
        return [
          {
            sql: 'UPDATE credentials SET token_scopes = $2, token_expires_at = $3, verified_at = $4, verification_failure = NULL, verification_reason = NULL WHERE id = $1',
            params: [credentialId, JSON.stringify(scopes), expiresAt, context.occurredAt],
          },
        ];
      }
      case 'CredentialVerificationFailed': {
        const { credentialId, failure, reason } = event.data;
        return [
          {
            sql: 'UPDATE credentials SET verified_at = $2, verification_failure = $3, verification_reason = $4 WHERE id = $1',
            params: [credentialId, context.occurredAt, failure, reason],
          },
        ];
      }
      case 'CredentialExpiring': {
        const { credentialId, expiresAt } = event.data;
        return [{ sql: 'UPDATE credentials SET token_expiring_for = $2 WHERE id = $1', params: [credentialId, expiresAt] }];
      }
      case 'CredentialThrottled': {
        const { credentialId, until } = event.data;
        if (credentialId === null) return [];
        return [{ sql: 'UPDATE credentials SET throttled_until = greatest(throttled_until, $2::timestamptz) WHERE id = $1', params: [credentialId, until] }];
      }
      case 'CredentialRemoved':
        return [{ sql: 'UPDATE credentials SET removed_at = $2 WHERE id = $1', params: [event.data.credentialId, context.occurredAt] }];
      default:
        return [];
    }
  },
  applyAll: (events) => applyInBatches(batchedChanges, credentialsProjection.apply)(events),
};

const added: RowKind = {
  columns: [
    'id uuid',
    'tenant_id text',
    'organization_id uuid',
    'login text',
    'password_id uuid',
    'added_at timestamptz',
    'added_by jsonb',
    'token_scopes jsonb',
    'token_expires_at date',
    'verified_at timestamptz',
  ],
  sql: `INSERT INTO credentials (id, tenant_id, organization_id, login, password_id, added_at, added_by, token_scopes, token_expires_at, verified_at)
        SELECT id, tenant_id, organization_id, login, password_id, added_at, added_by, token_scopes, token_expires_at, verified_at FROM batch`,
};

const verified: RowKind = {
  columns: ['id uuid', 'token_scopes jsonb', 'token_expires_at date', 'verified_at timestamptz'],
  sql: `UPDATE credentials SET token_scopes = batch.token_scopes, token_expires_at = batch.token_expires_at, verified_at = batch.verified_at,
          verification_failure = NULL, verification_reason = NULL FROM batch WHERE credentials.id = batch.id`,
  merge: lastWins,
};

/** Additions and verifications, which come in numbers; every other change of a credential keeps apply()'s statement, in its place. */
function batchedChanges(recorded: RecordedEvent): Change[] | undefined {
  if (recorded.type !== 'CredentialAdded' && recorded.type !== 'CredentialVerified') return undefined;
  // apply()'s one statement takes the row's columns as its parameters, in the same order.
  const [statement] = credentialsProjection.apply(recorded);
  const row = statement.params as RowValue[];
  return [{ key: `credential:${row[0]}`, kind: recorded.type === 'CredentialAdded' ? added : verified, row }];
}
