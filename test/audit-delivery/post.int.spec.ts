import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { backoffMs } from '../../src/app/audit-delivery/backoff';
import { postSigned } from '../../src/app/audit-delivery/post';

/** A receiver whose every answer the test writes. */
async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer((request, response) => {
    hits += 1;
    handler!(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/in`, hits: () => hits };
}

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });

describe('a delivery request', () => {
  it('takes a 2xx as delivered, and sends the body and headers as given', async () => {
    let seen = '';
    let signature = '';
    const { server, url } = await serve((request, response) => {
      signature = String(request.headers['x-backplane-signature']);
      request.on('data', (chunk: Buffer) => (seen += chunk.toString()));
      request.on('end', () => response.writeHead(204).end());
    });
    try {
      expect(await postSigned(url, '{"a":1}', { 'x-backplane-signature': 'sha256=ab' }, 5000)).toEqual({ ok: true });
      expect(seen).toBe('{"a":1}');
      expect(signature).toBe('sha256=ab');
    } finally {
      await close(server);
    }
  });

  it('does not follow a redirect', async () => {
    const elsewhere = await serve((_request, response) => response.writeHead(200).end());
    const { server, url } = await serve((_request, response) => response.writeHead(307, { location: elsewhere.url }).end());
    try {
      expect(await postSigned(url, '{}', {}, 5000)).toEqual({ ok: false, error: 'answered 307: redirects are not followed' });
      expect(elsewhere.hits()).toBe(0);
    } finally {
      await close(server);
      await close(elsewhere.server);
    }
  });

  it('says how it failed without quoting the answer, however long it is', async () => {
    const body = `secret-looking answer ${'x'.repeat(1024 * 1024)}`;
    const { server, url } = await serve((_request, response) => response.writeHead(500).end(body));
    try {
      expect(await postSigned(url, '{}', {}, 5000)).toEqual({ ok: false, error: 'answered 500' });
    } finally {
      await close(server);
    }
  });

  it('gives up on a receiver that does not answer, at its deadline', async () => {
    const { server, url } = await serve(() => undefined);
    try {
      expect(await postSigned(url, '{}', {}, 300)).toEqual({ ok: false, error: 'no answer within 300 ms' });
    } finally {
      await close(server);
    }
  });

  it('names a refused connection', async () => {
    const { server, url } = await serve((_request, response) => response.end());
    await close(server);
    expect(await postSigned(url, '{}', {}, 5000)).toEqual({ ok: false, error: 'connection refused' });
  });
});

describe('the wait between attempts', () => {
  it('doubles from the first wait and stops at the cap', () => {
    expect([1, 2, 3, 4, 10, 100].map((attempts) => backoffMs(attempts, 1000, 300_000))).toEqual([1000, 2000, 4000, 8000, 300_000, 300_000]);
  });
});
