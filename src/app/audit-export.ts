import { CSV_HEADER, csvRow } from '../audit-export/csv';
import { exportLine, exportLineOfText } from '../audit-export/export-line';
import type { AuditQuery } from '../queries/audit';
import { auditPlacePage, csvEventPage, type ExportRange, exportedEventPage, exportRange } from '../queries/audit-export';
import { randomUUID } from 'node:crypto';
import { auditExport, auditExportStream } from '../domain/audit-export';
import type { ExportFormat } from '../audit-export/export-params';
import { type DigestPeriods, periodsRange } from './audit-export-periods';
import { logInDatabase, write, type AppDeps, type Request } from './deps';

/** Rows read at once: large enough that round trips do not dominate, small enough that memory stays flat. */
export const EXPORT_PAGE = 2000;

/** One export of a tenant's history: the rows it covers are fixed when it starts. */
export interface AuditExport {
  tenantId: string;
  query: AuditQuery;
  range: ExportRange;
}

/**
 * Records who takes the history away, in which format and with which filters, before a byte of
 * it goes out: evidence handed to someone is itself part of the evidence.
 */
export async function recordAuditExport(
  deps: AppDeps,
  request: Request,
  format: ExportFormat,
  query: AuditQuery,
  periods?: Pick<DigestPeriods, 'fromDigest' | 'toDigest'>,
): Promise<string> {
  const exportId = randomUUID();
  await write(deps, request, auditExport, auditExportStream(exportId), {
    type: 'RecordAuditExport',
    data: {
      exportId,
      format,
      filters: {
        from: query.from?.toISOString() ?? null,
        to: query.to?.toISOString() ?? null,
        types: query.types ?? null,
        organizationId: query.organizationId ?? null,
        planId: query.planId ?? null,
        credentialId: query.credentialId ?? null,
        actorId: query.actorId ?? null,
        // Not named fromDigest: keys ending in Digest are shown redacted, as secrets' digests are.
        digestPeriods: periods ? { first: periods.fromDigest, last: periods.toDigest } : null,
      },
      at: new Date().toISOString(),
    },
  });
  return exportId;
}

/**
 * Fixes what the export covers: the tenant's history as far as the log's head now, or exactly the
 * periods of the digests given. The read models are let catch up with that head first (on
 * EventStoreDB they follow it), so that the export holds every event a digest signed before it
 * started, and a bundle's last period is whole.
 */
export async function startExport(deps: AppDeps, tenantId: string, query: AuditQuery, periods?: DigestPeriods): Promise<AuditExport> {
  // The last event committed, past any transaction still open: a change answered before is in it.
  await deps.settleAll('last-committed');
  const range = periods ? await periodsRange(deps.db, tenantId, periods) : await exportRange(deps.db, tenantId);
  return { tenantId, query, range };
}

/**
 * The export's events.jsonl, one page of lines (each ending in a newline) at a time. Reading a
 * page only when the previous one is taken is what keeps an export of any size in flat memory.
 */
export async function* exportLines(deps: AppDeps, job: AuditExport): AsyncGenerator<string> {
  // Where the event log shares the read models' database, one query joins the audit rows to the
  // events as recorded; elsewhere (EventStoreDB) each event is read back from its stream.
  const joined = logInDatabase(deps);
  let after = job.range.after;
  while (true) {
    const range = { after, upTo: job.range.upTo };
    if (joined) {
      const page = await exportedEventPage(deps.db, job.tenantId, job.query, range, EXPORT_PAGE);
      if (page.last === null) return;
      yield page.rows.map((row) => `${exportLineOfText(row)}\n`).join('');
      after = page.last;
    } else {
      const page = await auditPlacePage(deps.db, job.tenantId, job.query, range, EXPORT_PAGE);
      if (page.last === null) return;
      const lines: string[] = [];
      for (const place of page.rows) {
        const from = place.revision > 0n ? place.revision - 1n : 0n;
        const events = await deps.store.readStream(place.stream, { fromRevision: from, maxCount: place.revision > 0n ? 2 : 1 });
        const event = events.find((candidate) => candidate.revision === place.revision && candidate.id === place.eventId);
        if (!event) throw new Error(`event ${place.eventId} is in the audit history but not at ${place.stream} revision ${place.revision}`);
        const previous = events.find((candidate) => candidate.revision === place.revision - 1n);
        lines.push(`${exportLine({ ...event, previousHash: previous?.hash ?? '0'.repeat(64) })}\n`);
      }
      yield lines.join('');
      after = page.last;
    }
  }
}

/** The export as CSV, header first, one page of records at a time. */
export async function* exportCsv(deps: AppDeps, job: AuditExport): AsyncGenerator<string> {
  yield CSV_HEADER;
  let after = job.range.after;
  while (true) {
    const page = await csvEventPage(deps.db, job.tenantId, job.query, { after, upTo: job.range.upTo }, EXPORT_PAGE, logInDatabase(deps));
    if (page.last === null) return;
    yield page.rows.map(csvRow).join('');
    after = page.last;
  }
}
