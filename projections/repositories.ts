import type { Projection, SqlStatement } from '../src/core/projection';
import type { RepositoryEvent } from '../src/domain/repository';
import type { RecordedEvent } from '../src/eventstore/types';
import type { Change, RowKind } from '../src/sql/row-batches';
import { applyInBatches } from './batched-changes';
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
  applyAll: (events) => applyInBatches(batchedChanges, repositoriesProjection.apply)(events),
};

const syncStarted: RowKind = {
  columns: ['id uuid', 'tenant_id text', 'organization_id uuid', 'trigger text', 'started_at timestamptz', 'started_by jsonb'],
  sql: `INSERT INTO repository_syncs (id, tenant_id, organization_id, status, trigger, started_at, started_by)
        SELECT id, tenant_id, organization_id, 'RUNNING', trigger, started_at, started_by FROM batch`,
};

const synced: RowKind = {
  columns: [
    'id uuid',
    'finished_at timestamptz',
    'added integer',
    'removed integer',
    'renamed integer',
    'unchanged integer',
    'requests integer',
    'duration_ms integer',
    'credentials_used jsonb',
  ],
  sql: `UPDATE repository_syncs SET status = 'COMPLETED', finished_at = batch.finished_at, added = batch.added, removed = batch.removed,
          renamed = batch.renamed, unchanged = batch.unchanged, requests = batch.requests, duration_ms = batch.duration_ms,
          credentials_used = batch.credentials_used FROM batch WHERE repository_syncs.id = batch.id`,
};

const discovered: RowKind = {
  columns: ['id uuid', 'tenant_id text', 'organization_id uuid', 'gitlab_id bigint', 'kind text', 'full_path text', 'discovered_at timestamptz'],
  sql: `INSERT INTO repositories (id, tenant_id, organization_id, gitlab_id, kind, full_path, discovered_at)
        SELECT id, tenant_id, organization_id, gitlab_id, kind, full_path, discovered_at FROM batch
        ON CONFLICT (id) DO UPDATE SET full_path = EXCLUDED.full_path, removed_at = NULL`,
};

/** Syncs and discoveries, what every scheduled sync writes; the rarer changes of a repository keep apply()'s statement, in its place. */
function batchedChanges(recorded: RecordedEvent): Change[] | undefined {
  const event = { type: recorded.type, data: dataOf(recorded) } as RepositoryEvent;
  switch (event.type) {
    case 'RepositoryListSyncStarted': {
      const context = eventContext(recorded);
      const { syncId, organizationId, trigger, startedAt } = event.data;
      return [{ key: `sync:${syncId}`, kind: syncStarted, row: [syncId, context.tenantId, organizationId, trigger, startedAt, actorJson(context)] }];
    }
    case 'RepositoryListSynced': {
      const { syncId, added, removed, renamed, unchanged, requests, durationMs, credentialsUsed } = event.data;
      const finishedAt = eventContext(recorded).occurredAt;
      return [
        {
          key: `sync:${syncId}`,
          kind: synced,
          row: [syncId, finishedAt, added, removed, renamed, unchanged, requests, durationMs, JSON.stringify(credentialsUsed)],
        },
      ];
    }
    case 'RepositoryDiscovered': {
      const context = eventContext(recorded);
      const { repositoryId, organizationId, gitlabId, kind, fullPath } = event.data;
      return [
        {
          key: `repository:${repositoryId}`,
          kind: discovered,
          row: [repositoryId, context.tenantId, organizationId, gitlabId, kind, fullPath, context.occurredAt],
        },
      ];
    }
    default:
      return undefined;
  }
}
