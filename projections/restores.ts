import type { Projection } from '../src/core/projection';
import type { RestoreEvent } from '../src/domain/restore';
import { actorJson, dataOf, eventContext } from './event-context';

/** Restores of snapshots: where to, by whom, how far they got and how they ended. */
export const restoresProjection: Projection = {
  name: 'restores',
  version: 1,
  tables: ['restores'],
  schema: [
    `CREATE TABLE restores (
       id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       snapshot_id uuid NOT NULL,
       repository_id uuid NOT NULL,
       organization_id uuid NOT NULL,
       target text NOT NULL,
       namespace_path text,
       project_name text,
       password_id uuid,
       status text NOT NULL,
       actor jsonb NOT NULL,
       started_at timestamptz NOT NULL,
       step text,
       steps_done integer NOT NULL DEFAULT 0,
       steps_total integer NOT NULL DEFAULT 0,
       project_path text,
       project_id bigint,
       archive_url text,
       counts jsonb,
       left_out jsonb,
       reason text,
       finished_at timestamptz,
       version bigint NOT NULL)`,
    'CREATE INDEX restores_snapshot ON restores (tenant_id, snapshot_id, started_at DESC)',
  ],
  filter: { streamPrefixes: ['restore-'] },
  apply(recorded) {
    const context = eventContext(recorded);
    const version = recorded.revision.toString();
    const event = { type: recorded.type, data: dataOf(recorded) } as RestoreEvent;
    switch (event.type) {
      case 'RestoreStarted': {
        const r = event.data;
        return [
          {
            sql: `INSERT INTO restores (id, tenant_id, snapshot_id, repository_id, organization_id, target, namespace_path, project_name, password_id,
                    status, actor, started_at, version)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'RUNNING', $10, $11, $12)`,
            params: [
              r.restoreId,
              context.tenantId,
              r.snapshotId,
              r.repositoryId,
              r.organizationId,
              r.target,
              r.namespacePath,
              r.projectName,
              r.passwordId,
              actorJson(context),
              r.startedAt,
              version,
            ],
          },
        ];
      }
      case 'RestoreProgressed': {
        const p = event.data;
        return [
          {
            sql: 'UPDATE restores SET step = $2, steps_done = $3, steps_total = $4, version = $5 WHERE id = $1',
            params: [p.restoreId, p.step, p.stepsDone, p.stepsTotal, version],
          },
        ];
      }
      case 'RestoreCompleted': {
        const c = event.data;
        return [
          {
            sql: `UPDATE restores SET status = 'COMPLETED', project_path = $2, project_id = $3, archive_url = $4, counts = $5, left_out = $6,
                    finished_at = $7, steps_done = steps_total, version = $8 WHERE id = $1`,
            params: [c.restoreId, c.projectPath, c.projectId, c.archiveUrl, JSON.stringify(c.counts), JSON.stringify(c.leftOut), c.finishedAt, version],
          },
        ];
      }
      case 'RestoreFailed': {
        const f = event.data;
        return [
          {
            sql: `UPDATE restores SET status = 'FAILED', reason = $2, project_path = $3, finished_at = $4, version = $5 WHERE id = $1`,
            params: [f.restoreId, f.reason, f.projectPath, f.finishedAt, version],
          },
        ];
      }
      default:
        return [];
    }
  },
};
