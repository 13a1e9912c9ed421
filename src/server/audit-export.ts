import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { exportEvidence } from '../app/audit-export-evidence';
import { type DigestPeriods, digestPeriods } from '../app/audit-export-periods';
import { exportCsv, exportLines, recordAuditExport, startExport } from '../app/audit-export';
import type { AppDeps } from '../app/deps';
import { TarGzWriter } from '../archive/tar-gz';
import { exportJsonOf, writeBundle } from '../audit-export/bundle';
import { ExportParamError, type ExportFormat, paramNotUtf8, parseExportParams } from '../audit-export/export-params';
import { ProjectionTimeoutError } from '../core/errors';
import { loggedError, type Logger } from '../core/logger';
import { bearerPrincipal } from './bearer';
import { sendError } from './http-errors';

export const AUDIT_EXPORT_PATH = '/audit/export';

/** Who may take the history away: those who may read it. */
const MAY_EXPORT = ['ADMIN', 'AUDITOR'];

const CONTENT_TYPES: Record<ExportFormat, string> = {
  jsonl: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
  bundle: 'application/gzip',
};
const EXTENSIONS: Record<ExportFormat, string> = { jsonl: 'jsonl', csv: 'csv', bundle: 'tar.gz' };

/**
 * GET /audit/export with a Bearer token: the tenant's history with auditLog's filters, as JSON
 * lines, CSV or a verifiable bundle, streamed a page at a time as the client takes it.
 */
export function auditExport(app: AppDeps, logger: Logger): RequestHandler {
  return async (req, res) => {
    res.set('cache-control', 'no-store');
    const principal = await bearerPrincipal(app, req, res, MAY_EXPORT, 'export the audit history');
    if (principal === null) return;
    const query = req.originalUrl.indexOf('?');
    const notUtf8 = query === -1 ? null : paramNotUtf8(req.originalUrl.slice(query + 1));
    if (notUtf8 !== null) return badParam(res, new ExportParamError(notUtf8, `${notUtf8} must be UTF-8 text, percent-encoded`));
    let request: ReturnType<typeof parseExportParams>;
    try {
      request = parseExportParams(req.query as Record<string, unknown>);
    } catch (error) {
      if (!(error instanceof ExportParamError)) throw error;
      return badParam(res, error);
    }
    // The digests named must be the tenant's, before anything is read or recorded.
    let periods: DigestPeriods | undefined;
    try {
      if (request.digests) periods = await digestPeriods(app.db, principal.tenantId, request.digests);
    } catch (error) {
      if (!(error instanceof ExportParamError)) throw error;
      return badParam(res, error);
    }

    const madeAt = new Date();
    const name = `audit-${madeAt.toISOString().replaceAll(':', '')}.${EXTENSIONS[request.format]}`;
    const headers = { 'content-type': CONTENT_TYPES[request.format], 'content-disposition': `attachment; filename="${name}"` };
    // Express answers HEAD with this GET handler: the headers say all a HEAD asks, so it reads no event and records nothing.
    if (req.method === 'HEAD') return void res.status(200).set(headers).end();

    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    // The digests before the range: each one then signs only events the export holds (a digest
    // made in between would count events after the range, or this export's own record). Read
    // before the headers go, so that a failure here is still an answer of its own. An export of
    // digest periods holds exactly the digests named, and the one before them as the anchor of the first.
    const selection = periods ? { digests: periods.digests, anchor: periods.anchor } : { from: request.query.from, to: request.query.to };
    const evidence = request.format === 'bundle' ? await exportEvidence(app, principal.tenantId, selection) : null;
    let job: Awaited<ReturnType<typeof startExport>>;
    try {
      job = await startExport(app, principal.tenantId, request.query, periods);
    } catch (error) {
      if (!(error instanceof ProjectionTimeoutError)) throw error;
      return sendError(res, 503, 'CONFLICT', 'the audit history is catching up with the log: try again shortly');
    }
    // Once what it covers is fixed: it never holds its own record.
    const exportId = await recordAuditExport(app, { principal, correlationId: randomUUID() }, request.format, request.query, periods);
    // The record's id, for whoever wants to find this export in the history.
    res.status(200).set({ ...headers, 'x-backplane-export-id': exportId });
    res.flushHeaders();
    try {
      if (evidence) {
        const writer = new TarGzWriter();
        // Unread, the archive's writes would wait for 'drain' for ever.
        gone.signal.addEventListener('abort', () => writer.output.destroy());
        const sending = pump(writer.output, res, gone.signal);
        await Promise.all([
          writeBundle(
            writer,
            {
              exportJson: exportJsonOf(principal.tenantId, request.query, periods),
              keysJson: evidence.keysJson,
              digestsJsonl: evidence.digestsJsonl,
              anchorJson: evidence.anchorJson,
              eventLines: () => exportLines(app, job),
              spoolDir: app.backup.scratch,
              madeAt,
            },
            gone.signal,
          ).catch((error) => {
            writer.output.destroy();
            throw error;
          }),
          sending,
        ]);
      } else {
        await pump(request.format === 'csv' ? exportCsv(app, job) : exportLines(app, job), res, gone.signal);
      }
      if (!gone.signal.aborted) res.end();
    } catch (error) {
      // Headers are out: a cut connection is all the client can be told.
      if (!gone.signal.aborted) logger.error('audit export cut short', { error: loggedError(error) });
      res.destroy();
    }
  };
}

/**
 * Writes chunks to the response as fast as the client reads them: each write that fills the
 * socket's buffer waits for 'drain', so the next page is not read before this one has gone.
 */
async function pump(chunks: AsyncIterable<string | Buffer>, res: Response, gone: AbortSignal): Promise<void> {
  for await (const chunk of chunks) {
    if (!res.write(chunk)) await drained(res, gone);
    // Leaving the loop ends the generator: the next page is never asked for.
    if (gone.aborted) return;
  }
}

function drained(res: Response, gone: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      gone.removeEventListener('abort', done);
      resolve();
    };
    res.on('drain', done);
    gone.addEventListener('abort', done);
  });
}

/** 400 naming the parameter, in the shape GraphQL gives BAD_USER_INPUT. */
function badParam(res: Response, error: ExportParamError): void {
  res
    .status(400)
    .type('application/json')
    .send(
      JSON.stringify({
        errors: [{ message: `${error.param}: ${error.message}`, extensions: { code: 'BAD_USER_INPUT', fields: { [error.param]: error.message } } }],
      }),
    );
}
