import type { Projection, SqlStatement } from '../src/core/projection';
import type { OrganizationEvent } from '../src/domain/organization';
import { actorJson, dataOf, eventContext } from './event-context';

export const organizationsProjection: Projection = {
  name: 'organizations',
  version: 2,
  tables: ['organizations'],
  schema: [
    `CREATE TABLE organizations (
       id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       provider text NOT NULL,
       name text NOT NULL,
       gitlab_url text NOT NULL,
       auth_method text NOT NULL,
       login text,
       password_id uuid,
       protect_groups boolean NOT NULL,
       auto_add_new_repositories boolean NOT NULL,
       sync_times jsonb,
       sync_interval_minutes integer,
       default_device_id uuid NOT NULL,
       gitlab_group_id bigint,
       token_scopes jsonb,
       token_expires_at date,
       verified_at timestamptz,
       verification_failure text,
       verification_reason text,
       version bigint NOT NULL,
       added_at timestamptz NOT NULL,
       added_by jsonb NOT NULL,
       removed_at timestamptz)`,
    'CREATE INDEX organizations_tenant ON organizations (tenant_id)',
  ],
  filter: { streamPrefixes: ['organization-'] },
  apply(recorded) {
    const context = eventContext(recorded);
    const version = recorded.revision.toString();
    const event = { type: recorded.type, data: dataOf(recorded) } as OrganizationEvent;
    switch (event.type) {
      case 'OrganizationAdded': {
        const data = event.data;
        const sync = data.repositoriesSync;
        return [
          {
            sql: `INSERT INTO organizations (id, tenant_id, provider, name, gitlab_url, auth_method, login, password_id, protect_groups,
                    auto_add_new_repositories, sync_times, sync_interval_minutes, default_device_id, version, added_at, added_by,
                    gitlab_group_id, token_scopes, token_expires_at, verified_at)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
            params: [
              data.organizationId,
              context.tenantId,
              data.provider,
              data.name,
              data.gitlabUrl,
              data.authMethod,
              data.login,
              data.passwordId,
              data.protectGroups,
              data.autoAddNewRepositories,
              'times' in sync ? JSON.stringify(sync.times) : null,
              'intervalMinutes' in sync ? sync.intervalMinutes : null,
              data.defaultDeviceId,
              version,
              context.occurredAt,
              actorJson(context),
              data.gitlabGroupId ?? null,
              data.access ? JSON.stringify(data.access.scopes) : null,
              data.access?.expiresAt ?? null,
              data.access ? context.occurredAt : null,
            ],
          },
        ];
      }
      case 'OrganizationSettingsUpdated': {
        const { organizationId, protectGroups, autoAddNewRepositories, repositoriesSync } = event.data;
        const statements: SqlStatement[] = [{ sql: 'UPDATE organizations SET version = $2 WHERE id = $1', params: [organizationId, version] }];
        if (protectGroups !== undefined)
          statements.push({ sql: 'UPDATE organizations SET protect_groups = $2 WHERE id = $1', params: [organizationId, protectGroups] });
        if (autoAddNewRepositories !== undefined) {
          statements.push({ sql: 'UPDATE organizations SET auto_add_new_repositories = $2 WHERE id = $1', params: [organizationId, autoAddNewRepositories] });
        }
        if (repositoriesSync !== undefined) {
          statements.push({
            sql: 'UPDATE organizations SET sync_times = $2, sync_interval_minutes = $3 WHERE id = $1',
            params: [
              organizationId,
              'times' in repositoriesSync ? JSON.stringify(repositoriesSync.times) : null,
              'intervalMinutes' in repositoriesSync ? repositoriesSync.intervalMinutes : null,
            ],
          });
        }
        return statements;
      }
      case 'OrganizationDefaultDeviceChanged':
        return [
          {
            sql: 'UPDATE organizations SET default_device_id = $2, version = $3 WHERE id = $1',
            params: [event.data.organizationId, event.data.deviceId, version],
          },
        ];
      case 'OrganizationAuthorized': {
        const { organizationId, login, passwordId, gitlabGroupId, access } = event.data;
        return [
          {
            sql: `UPDATE organizations SET login = $2, password_id = $3, gitlab_group_id = $4, token_scopes = $5, token_expires_at = $6, verified_at = $7,
                    verification_failure = NULL, verification_reason = NULL, version = $8 WHERE id = $1`,
            params: [organizationId, login, passwordId, gitlabGroupId, JSON.stringify(access.scopes), access.expiresAt, context.occurredAt, version],
          },
        ];
      }
      case 'OrganizationVerified': {
        const { organizationId, scopes, expiresAt } = event.data;
        return [
          {
            sql: `UPDATE organizations SET token_scopes = $2, token_expires_at = $3, verified_at = $4, verification_failure = NULL, verification_reason = NULL, version = $5 WHERE id = $1`,
            params: [organizationId, JSON.stringify(scopes), expiresAt, context.occurredAt, version],
          },
        ];
      }
      case 'OrganizationVerificationFailed': {
        const { organizationId, failure, reason } = event.data;
        return [
          {
            sql: 'UPDATE organizations SET verified_at = $2, verification_failure = $3, verification_reason = $4, version = $5 WHERE id = $1',
            params: [organizationId, context.occurredAt, failure, reason, version],
          },
        ];
      }
      case 'OrganizationAuthorizationRequested':
        return [{ sql: 'UPDATE organizations SET version = $2 WHERE id = $1', params: [event.data.organizationId, version] }];
      case 'OrganizationRemoved':
        return [
          { sql: 'UPDATE organizations SET removed_at = $2, version = $3 WHERE id = $1', params: [event.data.organizationId, context.occurredAt, version] },
        ];
      default:
        return [];
    }
  },
};
