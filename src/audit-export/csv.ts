import type { JsonValue } from '../eventstore/types';

/** One row of the spreadsheet export, from the audit history (data redacted as people see it). */
export interface CsvEvent {
  occurredAt: string;
  actorName: string | null;
  actorId: string | null;
  actorRole: string | null;
  type: string;
  organizationId: string | null;
  planId: string | null;
  credentialId: string | null;
  data: JsonValue;
  correlationId: string | null;
  hash: string;
}

export const CSV_HEADER = 'time,actor,role,type,organization,plan,credential,summary,correlation id,hash\r\n';

/** The ids already in columns of their own, left out of the summary. */
const IN_COLUMNS = new Set(['organizationId', 'planId', 'credentialId']);
const SUMMARY_LIMIT = 1000;

/** One CSV record (RFC 4180: CRLF, fields quoted when they must be, quotes doubled). */
export function csvRow(event: CsvEvent): string {
  const actor = event.actorName ?? event.actorId ?? '';
  return `${[
    event.occurredAt,
    actor,
    event.actorRole ?? '',
    event.type,
    event.organizationId ?? '',
    event.planId ?? '',
    event.credentialId ?? '',
    summary(event.data),
    event.correlationId ?? '',
    event.hash,
  ]
    .map(csvField)
    .join(',')}\r\n`;
}

/** What changed, in one cell: the event's fields as `name: value`, nested values as JSON. */
export function summary(data: JsonValue): string {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return JSON.stringify(data);
  const parts = Object.entries(data)
    .filter(([key]) => !IN_COLUMNS.has(key))
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const text = parts.join('; ');
  return text.length > SUMMARY_LIMIT ? `${text.slice(0, SUMMARY_LIMIT - 1)}…` : text;
}

/**
 * A field as RFC 4180 writes it. A cell a spreadsheet would take for a formula (it starts with
 * = + - @, or a tab or carriage return that some readers skip first) gets a leading apostrophe:
 * the history quotes names and messages that anyone with a token could have chosen.
 */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
