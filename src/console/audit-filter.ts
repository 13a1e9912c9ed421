/**
 * The event log's filters (auditLog's AuditFilter) and their place in the page's address: the
 * hash's query ("#/audit/log?types=PlanCreated&planId=…"), so that a view can be shared by its
 * link. Only filters go there, never the token.
 */
export interface AuditFilterValues {
  from?: string;
  to?: string;
  types?: string[];
  organizationId?: string;
  planId?: string;
  credentialId?: string;
  actorId?: string;
}

const IDS = ['organizationId', 'planId', 'credentialId', 'actorId'] as const;
const TIMES = ['from', 'to'] as const;

/** A comma-separated list of event types, trimmed, without blanks or repeats. */
export function splitTypes(text: string): string[] {
  return [...new Set(text.split(',').map((name) => name.trim()))].filter(Boolean);
}

/** The filters a query string holds; what it does not know is left out, a time that is no instant too. */
export function filterFromQuery(query: string): AuditFilterValues {
  const params = new URLSearchParams(query);
  const filter: AuditFilterValues = {};
  for (const name of IDS) {
    const value = params.get(name)?.trim();
    if (value) filter[name] = value;
  }
  for (const name of TIMES) {
    const value = params.get(name);
    if (value && !Number.isNaN(Date.parse(value))) filter[name] = new Date(value).toISOString();
  }
  const types = splitTypes(params.getAll('types').join(','));
  if (types.length > 0) filter.types = types;
  return filter;
}

/**
 * The query string of a filter, in one fixed order: the same view has one address. It is also
 * what GET /audit/export takes (types comma-separated, times as ISO 8601 instants).
 */
export function queryOfFilter(filter: AuditFilterValues): string {
  const params = new URLSearchParams();
  for (const name of TIMES) if (filter[name]) params.set(name, filter[name]);
  if (filter.types?.length) params.set('types', filter.types.join(','));
  for (const name of IDS) if (filter[name]) params.set(name, filter[name]);
  return params.toString();
}

/** The AuditFilter input the API takes, or null when nothing filters. */
export function filterInput(filter: AuditFilterValues): AuditFilterValues | null {
  return Object.keys(filter).length > 0 ? filter : null;
}

/** `datetime-local` speaks the browser's local time without a zone; the API and the address speak instants. */
export function localInputValue(iso: string | undefined): string {
  if (!iso) return '';
  const ms = Date.parse(iso);
  return new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
}

export function instantOfLocal(value: string): string | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}
