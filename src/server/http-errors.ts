import { isUtf8 } from 'node:buffer';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from '../core/logger';
import type { Refusals } from './refusals';

/** The most a request body may hold, over HTTP and in one WebSocket message alike. */
export const BODY_LIMIT_BYTES = 1024 * 1024;

/** body-parser's type for a body refused by refuseBodyNotUtf8. */
const NOT_UTF8 = 'entity.not.utf8';

/**
 * A JSON body must be UTF-8 (RFC 8259): bytes that are not would be read as U+FFFD, and a name or
 * a secret stored other than it was sent, without a word. body-parser's verify hook, before parsing.
 */
export function refuseBodyNotUtf8(_req: unknown, _res: unknown, body: Buffer): void {
  if (!isUtf8(body)) throw Object.assign(new Error('the request body is not UTF-8'), { type: NOT_UTF8 });
}

/** An answer in the shape of a GraphQL error, for requests that never reach GraphQL. */
export function sendError(res: Response, status: number, code: string, message: string): void {
  res
    .status(status)
    .type('application/json')
    .send(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

/** Any path the server does not serve, in JSON like every other answer of the API. */
export const notFound: RequestHandler = (req, res) => {
  sendError(res, 404, 'NOT_FOUND', `nothing is served at ${req.method} ${req.path.slice(0, 100)}`);
};

/**
 * The last handler of the chain, in place of Express's own, which prints the error's stack
 * (and the body-parser's error carries the whole body) to stderr and to the client. Client
 * errors are counted; a server error writes one line with the error's name only.
 */
export function errorHandler(logger: Logger, refusals: Refusals): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const { status, type } = describe(error);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (status >= 500) {
      logger.error('HTTP request failed', { error: error instanceof Error ? error.name : 'unknown', type });
      sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'internal error: the request failed on the server');
      return;
    }
    refusals.count(`http ${status}`);
    if (status === 413) sendError(res, 413, 'PAYLOAD_TOO_LARGE', `the request body is too large: the limit is ${BODY_LIMIT_BYTES / 1024 / 1024} MB`);
    else if (type === 'entity.parse.failed') sendError(res, 400, 'BAD_USER_INPUT', 'the request body must be a JSON object');
    else if (type === NOT_UTF8) sendError(res, 400, 'BAD_USER_INPUT', 'the request body must be UTF-8 text');
    else sendError(res, status, 'BAD_REQUEST', 'the request could not be read');
  };
}

/** The status and kind body-parser and Express give an error; anything else is a server error. */
function describe(error: unknown): { status: number; type?: string } {
  const fields = (typeof error === 'object' && error !== null ? error : {}) as { status?: unknown; statusCode?: unknown; type?: unknown };
  const status = Number(fields.status ?? fields.statusCode);
  const type = typeof fields.type === 'string' ? fields.type : undefined;
  // body-parser answers a refusal of its verify hook 403: a body that is not UTF-8 is a bad request.
  if (type === NOT_UTF8) return { status: 400, type };
  return { status: Number.isInteger(status) && status >= 400 && status < 600 ? status : 500, type };
}
