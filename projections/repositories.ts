import type { Projection, SqlStatement } from '../src/core/projection';
import type { RepositoryEvent } from '../src/domain/repository';
import { actorJson, dataOf, eventContext } from './event-context';

/** The repositories GitLab lists for each organization, their protection and who set it, and the syncs. */
export const repositoriesProjection: Projection = {
  name: 'repositories',
  version: 2,
  tables: ['repositories', 'repository_syncs'],
  schema: [
    `CREATE TABLE repositories (
       id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       organization_id uuid NOT NULL,
       gitlab_id bigint NOT NULL,
       kind text NOT NULL,
       full_path text NOT NULL,
       protected boolean NOT NULL DEFAULT false,
       protected_at timestamptz,
       protected_by jsonb,
       protected_automatically boolean,
       discovered_at timestamptz NOT NULL,
       removed_at timestamptz)`,
    'CREATE INDEX repositories_organization ON repositories (tenant_id, organization_id, full_path, id)',
    `CREATE TABLE repository_syncs (
       id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       organization_id uuid NOT NULL,
       status text NOT NULL,
       trigger text NOT NULL,
       started_at timestamptz NOT NULL,
       started_by jsonb NOT NULL,
       finished_at timestamptz,
       added integer,
       removed integer,
       renamed integer,
       unchanged integer,
       requests integer,
       duration_ms integer,
       credentials_used jsonb,
       reason text)`,
    'CREATE INDEX repository_syncs_organization ON repository_syncs (tenant_id, organization_id, started_at)',
    // The schedule looks up every organization's latest start, every minute, in every process.
    'CREATE INDEX repository_syncs_latest ON repository_syncs (organization_id, started_at)',
  ],
  filter: { streamPrefixes: ['repositories-'] },
  apply(recorded) {
    const context = eventContext(recorded);
    const event = { type: recorded.type, data: dataOf(recorded) } as RepositoryEvent;
    switch (event.type) {
      case 'RepositoryListSyncStarted': {
        const { syncId, organizationId, trigger } = event.data;
        return [
          {
            sql: 'INSERT INTO repository_syncs (id, tenant_id, organization_id, status, trigger, started_at, started_by) VALUES ($1, $2, $3, $4, $5, $6, $7)',
            params: [syncId, context.tenantId, organizationId, 'RUNNING', trigger, event.data.startedAt, actorJson(context)],
          },
        ];
      }
      case 'RepositoryListSynced': {
        const { syncId, added, removed, renamed, unchanged, requests, durationMs, credentialsUsed } = event.data;
        return [
          {
            sql: `UPDATE repository_syncs SET status = 'COMPLETED', finished_at = $2, added = $3, removed = $4, renamed = $5, unchanged = $6,
                    requests = $7, duration_ms = $8, credentials_used = $9 WHERE id = $1`,
            params: [syncId, context.occurredAt, added, removed, renamed, unchanged, requests, durationMs, JSON.stringify(credentialsUsed)],
          },
        ];
      }
      case 'RepositoryListSyncFailed': {
        const { syncId, reason, requests, durationMs, credentialsUsed } = event.data;
        return [
          {
            sql: `UPDATE repository_syncs SET status = 'FAILED', finished_at = $2, reason = $3, requests = $4, duration_ms = $5, credentials_used = $6 WHERE id = $1`,
            params: [syncId, context.occurredAt, reason, requests ?? null, durationMs ?? null, credentialsUsed ? JSON.stringify(credentialsUsed) : null],
          },
        ];
      }
      case 'RepositoryDiscovered': {
        const { repositoryId, organizationId, gitlabId, kind, fullPath } = event.data;
        return [
          {
            sql: `INSERT INTO repositories (id, tenant_id, organization_id, gitlab_id, kind, full_path, discovered_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
                  ON CONFLICT (id) DO UPDATE SET full_path = EXCLUDED.full_path, removed_at = NULL`,
            params: [repositoryId, context.tenantId, organizationId, gitlabId, kind, fullPath, context.occurredAt],
          },
        ];
      }
      case 'RepositoryRenamed':
        return [{ sql: 'UPDATE repositories SET full_path = $2 WHERE id = $1', params: [event.data.repositoryId, event.data.fullPath] }];
      case 'RepositoryRemovedFromSource':
        return [{ sql: 'UPDATE repositories SET removed_at = $2 WHERE id = $1', params: [event.data.repositoryId, context.occurredAt] }];
      case 'RepositoryProtected':
        return [
          {
            sql: 'UPDATE repositories SET protected = true, protected_at = $2, protected_by = $3, protected_automatically = $4 WHERE id = $1',
            params: [event.data.repositoryId, context.occurredAt, actorJson(context), event.data.automatic],
          },
        ];
      case 'RepositoryUnprotected':
        return [
          {
            sql: 'UPDATE repositories SET protected = false, protected_at = $2, protected_by = $3, protected_automatically = false WHERE id = $1',
            params: [event.data.repositoryId, context.occurredAt, actorJson(context)],
          },
        ];
      default:
        return [] as SqlStatement[];
    }
  },
};
