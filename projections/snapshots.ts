import type { Projection } from '../src/core/projection';
import type { SnapshotEvent } from '../src/domain/snapshot';
import { dataOf, eventContext } from './event-context';

/** Snapshots taken by plan runs, with their last verification, and when their plan's retention let them go. */
export const snapshotsProjection: Projection = {
  name: 'snapshots',
  version: 2,
  tables: ['snapshots'],
  schema: [
    `CREATE TABLE snapshots (
       id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       task_id uuid NOT NULL,
       plan_id uuid NOT NULL,
       organization_id uuid NOT NULL,
       repository_id uuid NOT NULL,
       full_path text NOT NULL,
       storage_id uuid NOT NULL,
       taken_at timestamptz NOT NULL,
       manifest_hash text NOT NULL,
       bytes bigint NOT NULL,
       objects integer NOT NULL,
       new_bytes bigint NOT NULL,
       stored_bytes bigint NOT NULL,
       wiki boolean NOT NULL,
       counts jsonb NOT NULL,
       credentials_used jsonb NOT NULL,
       verification jsonb,
       expired_at timestamptz,
       expiry_rule text,
       version bigint NOT NULL)`,
    'CREATE INDEX snapshots_repository ON snapshots (tenant_id, repository_id, taken_at DESC, id DESC)',
    'CREATE INDEX snapshots_plan ON snapshots (tenant_id, plan_id, taken_at DESC, id DESC)',
    'CREATE INDEX snapshots_task ON snapshots (tenant_id, task_id)',
    'CREATE INDEX snapshots_storage ON snapshots (tenant_id, storage_id) WHERE expired_at IS NULL',
  ],
  filter: { streamPrefixes: ['snapshot-'] },
  apply(recorded) {
    const context = eventContext(recorded);
    const version = recorded.revision.toString();
    const event = { type: recorded.type, data: dataOf(recorded) } as SnapshotEvent;
    switch (event.type) {
      case 'SnapshotRecorded': {
        const s = event.data;
        return [
          {
            sql: `INSERT INTO snapshots (id, tenant_id, task_id, plan_id, organization_id, repository_id, full_path, storage_id, taken_at, manifest_hash,
                    bytes, objects, new_bytes, stored_bytes, wiki, counts, credentials_used, version)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
            params: [
              s.snapshotId,
              context.tenantId,
              s.taskId,
              s.planId,
              s.organizationId,
              s.repositoryId,
              s.fullPath,
              s.storageId,
              s.takenAt,
              s.manifestHash,
              s.bytes,
              s.objects,
              s.newBytes,
              s.storedBytes,
              s.wiki,
              JSON.stringify(s.counts),
              JSON.stringify(s.credentialsUsed),
              version,
            ],
          },
        ];
      }
      case 'SnapshotVerified': {
        const { snapshotId, repositoryId: _repositoryId, ...verification } = event.data;
        return [{ sql: 'UPDATE snapshots SET verification = $2, version = $3 WHERE id = $1', params: [snapshotId, JSON.stringify(verification), version] }];
      }
      case 'SnapshotExpired':
        return [
          {
            sql: 'UPDATE snapshots SET expired_at = $2, expiry_rule = $3, version = $4 WHERE id = $1',
            params: [event.data.snapshotId, event.data.expiredAt, event.data.rule, version],
          },
        ];
      default:
        return [];
    }
  },
};
