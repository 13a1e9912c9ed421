import type { Projection } from '../src/core/projection';
import type { PlanEvent } from '../src/domain/plan';
import type { RecordedEvent } from '../src/eventstore/types';
import type { Change, RowKind } from '../src/sql/row-batches';
import { applyInBatches, lastWins } from './batched-changes';
import { actorJson, dataOf, eventContext } from './event-context';

/** Backup plans as they stand: the switch, per credential whether it is on, since when and by whom, and the backup settings. */
export const plansProjection: Projection = {
  name: 'plans',
  version: 2,
  tables: ['plans', 'plan_credentials'],
  schema: [
    `CREATE TABLE plans (
       id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       organization_id uuid NOT NULL,
       name text NOT NULL,
       additional_credentials_enabled boolean NOT NULL DEFAULT false,
       storage_id uuid,
       schedule jsonb,
       schedule_set_at timestamptz,
       keep_last integer,
       keep_daily integer,
       keep_weekly integer,
       keep_monthly integer,
       version bigint NOT NULL,
       created_at timestamptz NOT NULL,
       deleted_at timestamptz)`,
    'CREATE INDEX plans_tenant ON plans (tenant_id, organization_id)',
    'CREATE INDEX plans_scheduled ON plans (tenant_id) WHERE schedule IS NOT NULL AND deleted_at IS NULL',
    `CREATE TABLE plan_credentials (
       plan_id uuid NOT NULL,
       credential_id uuid NOT NULL,
       tenant_id text NOT NULL,
       enabled boolean NOT NULL,
       changed_at timestamptz NOT NULL,
       changed_by jsonb NOT NULL,
       PRIMARY KEY (plan_id, credential_id))`,
    'CREATE INDEX plan_credentials_credential ON plan_credentials (credential_id)',
  ],
  filter: { streamPrefixes: ['plan-'] },
  apply(recorded) {
    const context = eventContext(recorded);
    const version = recorded.revision.toString();
    const event = { type: recorded.type, data: dataOf(recorded) } as PlanEvent;
    switch (event.type) {
      case 'PlanCreated':
        return [
          {
            sql: 'INSERT INTO plans (id, tenant_id, organization_id, name, version, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
            params: [event.data.planId, context.tenantId, event.data.organizationId, event.data.name, version, context.occurredAt],
          },
        ];
      case 'PlanAdditionalCredentialsSet':
        return [
          { sql: 'UPDATE plans SET additional_credentials_enabled = $2, version = $3 WHERE id = $1', params: [event.data.planId, event.data.enabled, version] },
        ];
      case 'PlanCredentialToggled':
        // One statement for both tables: a switch kept inline is applied in the change's own transaction, a round trip each.
        return [
          {
            sql: `WITH versioned AS (UPDATE plans SET version = $7 WHERE id = $1)
                  INSERT INTO plan_credentials (plan_id, credential_id, tenant_id, enabled, changed_at, changed_by) VALUES ($1, $2, $3, $4, $5, $6)
                  ON CONFLICT (plan_id, credential_id) DO UPDATE SET enabled = EXCLUDED.enabled, changed_at = EXCLUDED.changed_at, changed_by = EXCLUDED.changed_by`,
            params: [event.data.planId, event.data.credentialId, context.tenantId, event.data.enabled, context.occurredAt, actorJson(context), version],
            prepared: true,
          },
        ];
      case 'PlanBackupSettingsUpdated': {
        const { planId, storageId, schedule, keepLast, keepDaily, keepWeekly, keepMonthly } = event.data;
        return [
          {
            // A schedule counts from when it was set (setting one does not start a run at once); saving it unchanged keeps that time.
            sql: `UPDATE plans SET storage_id = $2, schedule = $3::jsonb,
                    schedule_set_at = CASE WHEN $3::jsonb IS NULL THEN NULL WHEN schedule = $3::jsonb THEN schedule_set_at ELSE $4::timestamptz END,
                    keep_last = $5, keep_daily = $6, keep_weekly = $7, keep_monthly = $8, version = $9 WHERE id = $1`,
            params: [
              planId,
              storageId,
              schedule === null ? null : JSON.stringify(schedule),
              context.occurredAt,
              keepLast,
              keepDaily,
              keepWeekly,
              keepMonthly,
              version,
            ],
          },
        ];
      }
      case 'PlanDeleted':
        return [{ sql: 'UPDATE plans SET deleted_at = $2, version = $3 WHERE id = $1', params: [event.data.planId, context.occurredAt, version] }];
      default:
        return [];
    }
  },
  applyAll: (events) => applyInBatches(batchedChanges, plansProjection.apply)(events),
};

const created: RowKind = {
  columns: ['id uuid', 'tenant_id text', 'organization_id uuid', 'name text', 'version bigint', 'created_at timestamptz'],
  sql: 'INSERT INTO plans (id, tenant_id, organization_id, name, version, created_at) SELECT id, tenant_id, organization_id, name, version, created_at FROM batch',
};

const switched: RowKind = {
  columns: ['id uuid', 'enabled boolean', 'version bigint'],
  sql: 'UPDATE plans SET additional_credentials_enabled = batch.enabled, version = batch.version FROM batch WHERE plans.id = batch.id',
  merge: lastWins,
};

const versioned: RowKind = {
  columns: ['id uuid', 'version bigint'],
  sql: 'UPDATE plans SET version = batch.version FROM batch WHERE plans.id = batch.id',
  merge: lastWins,
};

const credentialToggled: RowKind = {
  columns: ['plan_id uuid', 'credential_id uuid', 'tenant_id text', 'enabled boolean', 'changed_at timestamptz', 'changed_by jsonb'],
  sql: `INSERT INTO plan_credentials (plan_id, credential_id, tenant_id, enabled, changed_at, changed_by)
        SELECT plan_id, credential_id, tenant_id, enabled, changed_at, changed_by FROM batch
        ON CONFLICT (plan_id, credential_id) DO UPDATE SET enabled = EXCLUDED.enabled, changed_at = EXCLUDED.changed_at, changed_by = EXCLUDED.changed_by`,
  // The row keeps the tenant it was first written with.
  merge: (earlier, later) => [later[0], later[1], earlier[2], later[3], later[4], later[5]],
};

function batchedChanges(recorded: RecordedEvent): Change[] | undefined {
  const version = recorded.revision.toString();
  const event = { type: recorded.type, data: dataOf(recorded) } as PlanEvent;
  const key = `plan:${event.data.planId}`;
  switch (event.type) {
    case 'PlanCreated': {
      const context = eventContext(recorded);
      return [{ key, kind: created, row: [event.data.planId, context.tenantId, event.data.organizationId, event.data.name, version, context.occurredAt] }];
    }
    case 'PlanAdditionalCredentialsSet':
      return [{ key, kind: switched, row: [event.data.planId, event.data.enabled, version] }];
    case 'PlanCredentialToggled': {
      const context = eventContext(recorded);
      const { planId, credentialId, enabled } = event.data;
      return [
        { key, kind: versioned, row: [planId, version] },
        {
          key: `credential:${planId}:${credentialId}`,
          kind: credentialToggled,
          row: [planId, credentialId, context.tenantId, enabled, context.occurredAt, actorJson(context)],
        },
      ];
    }
    case 'PlanBackupSettingsUpdated':
    case 'PlanDeleted':
      return plansProjection.apply(recorded).map((statement) => ({ key, statement }));
    default:
      return undefined;
  }
}
