import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  id: string;
  type: string;
  /** The request's path: destinations told apart on one receiver. */
  path: string;
  body: string;
  /** The signature checked here with node:crypto, under the secret the receiver was given. */
  signatureValid: boolean;
  event: { id: string; type: string; position: string; stream: string; revision: number; metadata: { tenantId?: string } };
}

/**
 * A SIEM receiver as a real HTTP server: it checks each delivery's signature itself and keeps
 * every request it took (dedup by event id is the test's to do). `answer` picks the status of
 * each request (a promise: the answer is held until it settles), answered after delayMs; `down()`
 * closes the port (connection refused) until `up()` opens it again.
 */
export async function startReceiver(secret: string, answer: (request: number, delivery: Delivery) => number | Promise<number> = () => 200, delayMs = 0) {
  const received: Delivery[] = [];
  const accepted: Delivery[] = [];
  let requests = 0;
  let port = 0;
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`);
      const given = Buffer.from(String(request.headers['x-backplane-signature'] ?? ''));
      const body = raw.toString('utf8');
      const delivery: Delivery = {
        id: String(request.headers['x-backplane-event-id']),
        type: String(request.headers['x-backplane-event-type']),
        path: request.url ?? '',
        body,
        signatureValid: given.length === expected.length && timingSafeEqual(given, expected),
        event: JSON.parse(body),
      };
      received.push(delivery);
      requests += 1;
      void Promise.resolve(answer(requests, delivery)).then((status) => {
        if (status >= 200 && status < 300) accepted.push(delivery);
        const reply = () => response.writeHead(status, { 'content-type': 'text/plain' }).end(status >= 300 ? 'receiver says no' : 'ok');
        if (delayMs > 0) setTimeout(reply, delayMs);
        else reply();
      });
    });
  };
  let server: Server = createServer(handle);
  const listen = () =>
    new Promise<void>((resolve) => {
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  await listen();
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    url: () => `http://127.0.0.1:${port}/ingest`,
    received,
    accepted,
    requests: () => requests,
    /** Closes the port: attempts now meet a refused connection. */
    down: close,
    async up() {
      server = createServer(handle);
      await listen();
    },
    close,
  };
}

/** Each event once, in the order first accepted: what a receiver keeps after deduplicating by event id. */
export function deduplicated(deliveries: Delivery[]): Delivery[] {
  const seen = new Set<string>();
  return deliveries.filter((delivery) => !seen.has(delivery.id) && seen.add(delivery.id));
}
