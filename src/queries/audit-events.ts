import { dataOf, eventContext } from '../../projections/event-context';
import { redact } from '../core/redact';
import type { RecordedEvent } from '../eventstore/types';
import type { AuditQuery } from './audit';
import type { AuditEventView } from './views';

/** An event straight from the store, as the audit history shows it. */
export function auditEventOf(event: RecordedEvent): AuditEventView {
  const context = eventContext(event);
  const metadata = event.metadata;
  return {
    id: event.id,
    cursor: event.position,
    type: event.type,
    occurredAt: new Date(context.occurredAt),
    actor: context.actor,
    streamName: event.stream,
    data: redact(event.data),
    correlationId: typeof metadata.correlationId === 'string' ? metadata.correlationId : null,
    causationId: typeof metadata.causationId === 'string' ? metadata.causationId : null,
    hash: event.hash,
  };
}

/** Whether a live event belongs to the tenant and passes the filter, as the audit_log query would judge it. */
export function matchesAudit(event: RecordedEvent, tenantId: string, filter: AuditQuery): boolean {
  const context = eventContext(event);
  if (context.tenantId !== tenantId) return false;
  const data = dataOf<Record<string, unknown>>(event) ?? {};
  if (filter.organizationId !== undefined && data.organizationId !== filter.organizationId) return false;
  if (filter.planId !== undefined && data.planId !== filter.planId) return false;
  if (filter.credentialId !== undefined && data.credentialId !== filter.credentialId) return false;
  if (filter.actorId !== undefined && context.actor.id !== filter.actorId) return false;
  if (filter.types !== undefined && !filter.types.includes(event.type)) return false;
  const at = Date.parse(context.occurredAt);
  if (filter.from !== undefined && at < filter.from.getTime()) return false;
  if (filter.to !== undefined && at >= filter.to.getTime()) return false;
  return true;
}
