import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** What an answer may hold that is read (and thrown away): enough to keep the connection reusable, never a flood. */
const MAX_ANSWER_BYTES = 16 * 1024;

export type PostOutcome = { ok: true } | { ok: false; error: string };

/**
 * POSTs one body. A 2xx is a delivery; anything else is a failure said in a few words (a status,
 * a network failure), never quoting the body sent or the answer, which could hold anything.
 * Redirects are not followed: a receiver that moved must be re-added at its new address, and a
 * redirect could carry the signed evidence elsewhere. The whole exchange has a deadline.
 */
export function postSigned(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<PostOutcome> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: PostOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const request = send(
      target,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body).toString(), ...headers },
      },
      (response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) response.destroy();
        });
        const answered = () =>
          finish(
            status >= 200 && status < 300
              ? { ok: true }
              : status >= 300 && status < 400
                ? { ok: false, error: `answered ${status}: redirects are not followed` }
                : { ok: false, error: `answered ${status}` },
          );
        response.on('end', answered);
        // An answer cut short (too long, or the connection dropped) still carried its status.
        response.on('close', answered);
        response.on('error', answered);
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      finish({ ok: false, error: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    request.on('error', (error: NodeJS.ErrnoException) => finish({ ok: false, error: networkFailure(error) }));
    request.end(body);
  });
}

/** A network failure in words of its own: the error's message may quote the address, and that is all it would add. */
function networkFailure(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ETIMEDOUT':
      return 'connection timed out';
    default:
      return typeof error.code === 'string' && /^[A-Z_]+$/.test(error.code) ? `network failure ${error.code}` : 'network failure';
  }
}
