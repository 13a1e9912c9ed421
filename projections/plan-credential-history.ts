import type { Projection } from '../src/core/projection';
import type { PlanEvent } from '../src/domain/plan';
import { actorJson, dataOf, eventContext } from './event-context';

/**
 * When each credential was on for each plan, and when each plan's switch was on, as half-open
 * intervals [from, to): "which credentials did the plan have at instant t" is one indexed read.
 */
export const planCredentialHistoryProjection: Projection = {
  name: 'plan-credential-history',
  version: 1,
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
    `CREATE TABLE plan_switch_intervals (
       plan_id uuid NOT NULL,
       tenant_id text NOT NULL,
       on_from timestamptz NOT NULL,
       on_to timestamptz,
       PRIMARY KEY (plan_id, on_from))`,
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
};

function closeSwitch(planId: string, at: string) {
  return { sql: 'UPDATE plan_switch_intervals SET on_to = $2 WHERE plan_id = $1 AND on_to IS NULL', params: [planId, at] };
}
