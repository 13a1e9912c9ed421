import type { Projection } from '../src/core/projection';
import type { TaskEvent } from '../src/domain/task';
import type { RecordedEvent } from '../src/eventstore/types';
import type { Change, RowKind } from '../src/sql/row-batches';
import { applyInBatches } from './batched-changes';
import { actorJson, dataOf, eventContext } from './event-context';

/** Runs of backup plans: progress while they run, and what each credential did once they end. */
export const tasksProjection: Projection = {
  name: 'tasks',
  version: 1,
  tables: ['tasks'],
  schema: [
    `CREATE TABLE tasks (
       id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       plan_id uuid NOT NULL,
       organization_id uuid NOT NULL,
       status text NOT NULL,
       repositories_total integer NOT NULL,
       repositories_done integer NOT NULL DEFAULT 0,
       repositories_failed integer NOT NULL DEFAULT 0,
       started_at timestamptz NOT NULL,
       started_by jsonb NOT NULL,
       finished_at timestamptz,
       credentials_used jsonb,
       throttled_periods jsonb NOT NULL DEFAULT '[]',
       reason text,
       version bigint NOT NULL)`,
    'CREATE INDEX tasks_plan ON tasks (tenant_id, plan_id, started_at)',
  ],
  filter: { streamPrefixes: ['task-'] },
  apply(recorded) {
    const context = eventContext(recorded);
    const version = recorded.revision.toString();
    const event = { type: recorded.type, data: dataOf(recorded) } as TaskEvent;
    const id = event.data.taskId;
    switch (event.type) {
      case 'BackupTaskStarted': {
        const { planId, organizationId, repositoriesTotal, startedAt } = event.data;
        return [
          {
            sql: `INSERT INTO tasks (id, tenant_id, plan_id, organization_id, status, repositories_total, started_at, started_by, version)
                  VALUES ($1, $2, $3, $4, 'RUNNING', $5, $6, $7, $8)`,
            params: [id, context.tenantId, planId, organizationId, repositoriesTotal, startedAt, actorJson(context), version],
          },
        ];
      }
      case 'BackupTaskThrottled':
        return [
          {
            sql: `UPDATE tasks SET status = 'THROTTLED', throttled_periods = throttled_periods || $2::jsonb, version = $3 WHERE id = $1`,
            params: [id, JSON.stringify([{ from: event.data.from, until: event.data.until }]), version],
          },
        ];
      case 'BackupTaskResumed':
        return [{ sql: `UPDATE tasks SET status = 'RUNNING', version = $2 WHERE id = $1`, params: [id, version] }];
      case 'RepositoryBackedUp':
        return [{ sql: 'UPDATE tasks SET repositories_done = repositories_done + 1, version = $2 WHERE id = $1', params: [id, version] }];
      case 'RepositoryBackupFailed':
        return [
          {
            sql: 'UPDATE tasks SET repositories_done = repositories_done + 1, repositories_failed = repositories_failed + 1, version = $2 WHERE id = $1',
            params: [id, version],
          },
        ];
      case 'BackupTaskCompleted':
      case 'BackupTaskFailed': {
        const { credentialsUsed, throttledPeriods, finishedAt } = event.data;
        return [
          {
            sql: 'UPDATE tasks SET status = $2, finished_at = $3, credentials_used = $4, throttled_periods = $5, reason = $6, version = $7 WHERE id = $1',
            params: [
              id,
              event.type === 'BackupTaskCompleted' ? 'COMPLETED' : 'FAILED',
              finishedAt,
              JSON.stringify(credentialsUsed),
              JSON.stringify(throttledPeriods),
              event.type === 'BackupTaskFailed' ? event.data.reason : null,
              version,
            ],
          },
        ];
      }
      default:
        return [];
    }
  },
  // A run writes one event per repository: its progress is counted once per batch.
  applyAll: (events) => applyInBatches(batchedChanges, tasksProjection.apply)(events),
};

const started: RowKind = {
  columns: [
    'id uuid',
    'tenant_id text',
    'plan_id uuid',
    'organization_id uuid',
    'repositories_total integer',
    'started_at timestamptz',
    'started_by jsonb',
    'version bigint',
  ],
  sql: `INSERT INTO tasks (id, tenant_id, plan_id, organization_id, status, repositories_total, started_at, started_by, version)
        SELECT id, tenant_id, plan_id, organization_id, 'RUNNING', repositories_total, started_at, started_by, version FROM batch`,
};

const progressed: RowKind = {
  columns: ['id uuid', 'done integer', 'failed integer', 'version bigint'],
  sql: `UPDATE tasks SET repositories_done = tasks.repositories_done + batch.done, repositories_failed = tasks.repositories_failed + batch.failed,
          version = batch.version FROM batch WHERE tasks.id = batch.id`,
  merge: (earlier, later) => [later[0], Number(earlier[1]) + Number(later[1]), Number(earlier[2]) + Number(later[2]), later[3]],
};

const finished: RowKind = {
  columns: ['id uuid', 'status text', 'finished_at timestamptz', 'credentials_used jsonb', 'throttled_periods jsonb', 'reason text', 'version bigint'],
  sql: `UPDATE tasks SET status = batch.status, finished_at = batch.finished_at, credentials_used = batch.credentials_used,
          throttled_periods = batch.throttled_periods, reason = batch.reason, version = batch.version FROM batch WHERE tasks.id = batch.id`,
};

function batchedChanges(recorded: RecordedEvent): Change[] | undefined {
  const version = recorded.revision.toString();
  const event = { type: recorded.type, data: dataOf(recorded) } as TaskEvent;
  const key = `task:${event.data.taskId}`;
  switch (event.type) {
    case 'BackupTaskStarted': {
      const context = eventContext(recorded);
      const { taskId, planId, organizationId, repositoriesTotal, startedAt } = event.data;
      return [{ key, kind: started, row: [taskId, context.tenantId, planId, organizationId, repositoriesTotal, startedAt, actorJson(context), version] }];
    }
    case 'RepositoryBackedUp':
    case 'RepositoryBackupFailed':
      return [{ key, kind: progressed, row: [event.data.taskId, 1, event.type === 'RepositoryBackupFailed' ? 1 : 0, version] }];
    case 'BackupTaskCompleted':
    case 'BackupTaskFailed': {
      const { taskId, credentialsUsed, throttledPeriods, finishedAt } = event.data;
      const status = event.type === 'BackupTaskCompleted' ? 'COMPLETED' : 'FAILED';
      const reason = event.type === 'BackupTaskFailed' ? event.data.reason : null;
      return [{ key, kind: finished, row: [taskId, status, finishedAt, JSON.stringify(credentialsUsed), JSON.stringify(throttledPeriods), reason, version] }];
    }
    case 'BackupTaskThrottled':
    case 'BackupTaskResumed':
      return tasksProjection.apply(recorded).map((statement) => ({ key, statement }));
    default:
      return undefined;
  }
}
