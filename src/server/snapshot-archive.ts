import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RequestHandler } from 'express';
import { takeArchive } from '../app/backup/snapshots';
import type { AppDeps } from '../app/deps';
import { loggedError, type Logger } from '../core/logger';
import { BackplaneError } from '../errors';
import { TarGzWriter } from '../archive/tar-gz';
import { bearerPrincipal } from './bearer';
import { sendError } from './http-errors';

export const ARCHIVE_PATH = '/snapshots/:id/archive';

/** Who may take repository content away: those who run backups. */
const MAY_DOWNLOAD = ['ADMIN', 'OPERATOR'];

/**
 * GET /snapshots/:id/archive with a Bearer token: the snapshot as a .tar.gz holding its git
 * bundle (git clone works on it), its wiki's, its metadata as JSON and its manifest, streamed
 * object by object as it is read from storage and decrypted.
 */
export function snapshotArchive(app: AppDeps, logger: Logger): RequestHandler {
  return async (req, res) => {
    res.set('cache-control', 'no-store');
    const principal = await bearerPrincipal(app, req, res, MAY_DOWNLOAD, 'download snapshots');
    if (principal === null) return;
    let archive: Awaited<ReturnType<typeof takeArchive>>;
    try {
      archive = await takeArchive(app, { principal, correlationId: randomUUID() }, String(req.params.id));
    } catch (error) {
      if (error instanceof BackplaneError && error.code === 'NOT_FOUND') return sendError(res, 404, 'NOT_FOUND', 'no such snapshot');
      logger.error('snapshot archive failed', { error: loggedError(error) });
      return sendError(res, 503, 'STORAGE_UNAVAILABLE', 'the snapshot could not be read from its storage: verifySnapshot tells what is wrong');
    }
    const { view, entries } = archive;
    const name = `${view.fullPath.replaceAll('/', '-')}-${view.takenAt.toISOString().replaceAll(':', '')}.tar.gz`.replace(/[^A-Za-z0-9._-]/g, '_');
    res.status(200).set({ 'content-type': 'application/gzip', 'content-disposition': `attachment; filename="${name}"` });
    const writer = new TarGzWriter();
    const sending = pipeline(writer.output, res);
    // A client that hangs up ends the pipeline at once, while a read from storage may still be under way.
    let cut = false;
    sending.catch(() => {
      cut = true;
    });
    try {
      for (const entry of entries) {
        if (cut) break;
        await writer.addFile(entry.name, Readable.from(entry.body()), entry.size, view.takenAt);
      }
      await writer.finish();
      await sending;
    } catch (error) {
      // Headers are out: a cut connection is all the client can be told, and its gzip will not end.
      if (!cut) logger.error('snapshot archive cut short', { error: loggedError(error) });
      writer.output.destroy();
      res.destroy();
      await sending.catch(() => undefined);
    }
  };
}
