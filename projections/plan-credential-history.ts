import type { Projection } from '../src/core/projection';
import type { PlanEvent } from '../src/domain/plan';
import type { RecordedEvent } from '../src/eventstore/types';
import type { Change, RowKind } from '../src/sql/row-batches';
import { applyInBatches } from './batched-changes';
import { actorJson, dataOf, eventContext } from './event-context';

/**
 * When each credential was on for each plan, and when each plan's switch was on, as half-open
 * intervals [from, to): "which credentials did the plan have at instant t" is one indexed read.
 */
export const planCredentialHistoryProjection: Projection = {
  name: 'plan-credential-history',
  version: 2,
  tables: ['plan_credential_intervals', 'plan_switch_intervals'],
  schema: [
    `CREATE TABLE plan_credential_intervals (
       plan_id uuid NOT NULL,
       credential_id uuid NOT NULL,
       tenant_id text NOT NULL,
       enabled_from timestamptz NOT NULL,
       enabled_to timestamptz,
       enabled_by jsonb NOT NULL,
       disabled_by jsonb,
       PRIMARY KEY (plan_id, credential_id, enabled_from))`,
    // The open interval a switch off closes, found without walking every interval the pair ever had.
    'CREATE INDEX plan_credential_intervals_open ON plan_credential_intervals (plan_id, credential_id) WHERE enabled_to IS NULL',
    `CREATE TABLE plan_switch_intervals (
       plan_id uuid NOT NULL,
       tenant_id text NOT NULL,
       on_from timestamptz NOT NULL,
       on_to timestamptz,
       PRIMARY KEY (plan_id, on_from))`,
    'CREATE INDEX plan_switch_intervals_open ON plan_switch_intervals (plan_id) WHERE on_to IS NULL',
  ],
  filter: { streamPrefixes: ['plan-'] },
  apply(recorded) {
    const context = eventContext(recorded);
    const at = context.occurredAt;
    const event = { type: recorded.type, data: dataOf(recorded) } as PlanEvent;
    switch (event.type) {
      case 'PlanAdditionalCredentialsSet':
        return event.data.enabled
          ? [
              {
                sql: 'INSERT INTO plan_switch_intervals (plan_id, tenant_id, on_from) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
                params: [event.data.planId, context.tenantId, at],
              },
            ]
          : [closeSwitch(event.data.planId, at)];
      case 'PlanCredentialToggled': {
        const { planId, credentialId, enabled } = event.data;
        return enabled
          ? [
              {
                sql: `INSERT INTO plan_credential_intervals (plan_id, credential_id, tenant_id, enabled_from, enabled_by) VALUES ($1, $2, $3, $4, $5)
                      ON CONFLICT DO NOTHING`,
                params: [planId, credentialId, context.tenantId, at, actorJson(context)],
              },
            ]
          : [
              {
                sql: 'UPDATE plan_credential_intervals SET enabled_to = $3, disabled_by = $4 WHERE plan_id = $1 AND credential_id = $2 AND enabled_to IS NULL',
                params: [planId, credentialId, at, actorJson(context)],
              },
            ];
      }
      case 'PlanDeleted':
        return [
          closeSwitch(event.data.planId, at),
          {
            sql: 'UPDATE plan_credential_intervals SET enabled_to = $2, disabled_by = $3 WHERE plan_id = $1 AND enabled_to IS NULL',
            params: [event.data.planId, at, actorJson(context)],
          },
        ];
      default:
        return [];
    }
  },
  applyAll: (events) => applyInBatches(batchedChanges, planCredentialHistoryProjection.apply)(events),
};

const switchedOn: RowKind = {
  columns: ['plan_id uuid', 'tenant_id text', 'on_from timestamptz'],
  sql: 'INSERT INTO plan_switch_intervals (plan_id, tenant_id, on_from) SELECT plan_id, tenant_id, on_from FROM batch ON CONFLICT DO NOTHING',
};

const switchedOff: RowKind = {
  columns: ['plan_id uuid', 'on_to timestamptz'],
  sql: `UPDATE plan_switch_intervals SET on_to = batch.on_to FROM batch
        WHERE plan_switch_intervals.plan_id = batch.plan_id AND plan_switch_intervals.on_to IS NULL`,
};

const credentialOn: RowKind = {
  columns: ['plan_id uuid', 'credential_id uuid', 'tenant_id text', 'enabled_from timestamptz', 'enabled_by jsonb'],
  sql: `INSERT INTO plan_credential_intervals (plan_id, credential_id, tenant_id, enabled_from, enabled_by)
        SELECT plan_id, credential_id, tenant_id, enabled_from, enabled_by FROM batch ON CONFLICT DO NOTHING`,
};

const credentialOff: RowKind = {
  columns: ['plan_id uuid', 'credential_id uuid', 'enabled_to timestamptz', 'disabled_by jsonb'],
  sql: `UPDATE plan_credential_intervals SET enabled_to = batch.enabled_to, disabled_by = batch.disabled_by FROM batch
        WHERE plan_credential_intervals.plan_id = batch.plan_id AND plan_credential_intervals.credential_id = batch.credential_id
          AND plan_credential_intervals.enabled_to IS NULL`,
};

/** A plan's deletion closes every interval of the plan: it stays a statement of its own, between the others. */
function batchedChanges(recorded: RecordedEvent): Change[] | undefined {
  const event = { type: recorded.type, data: dataOf(recorded) } as PlanEvent;
  switch (event.type) {
    case 'PlanAdditionalCredentialsSet': {
      const context = eventContext(recorded);
      const key = `switch:${event.data.planId}`;
      return event.data.enabled
        ? [{ key, kind: switchedOn, row: [event.data.planId, context.tenantId, context.occurredAt] }]
        : [{ key, kind: switchedOff, row: [event.data.planId, context.occurredAt] }];
    }
    case 'PlanCredentialToggled': {
      const context = eventContext(recorded);
      const { planId, credentialId, enabled } = event.data;
      const key = `credential:${planId}:${credentialId}`;
      return enabled
        ? [{ key, kind: credentialOn, row: [planId, credentialId, context.tenantId, context.occurredAt, actorJson(context)] }]
        : [{ key, kind: credentialOff, row: [planId, credentialId, context.occurredAt, actorJson(context)] }];
    }
    default:
      return undefined;
  }
}

function closeSwitch(planId: string, at: string) {
  return { sql: 'UPDATE plan_switch_intervals SET on_to = $2 WHERE plan_id = $1 AND on_to IS NULL', params: [planId, at] };
}
