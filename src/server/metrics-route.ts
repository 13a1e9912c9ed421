import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestHandler } from 'express';
import type { AppDeps } from '../app/deps';
import { loggedError, type Logger } from '../core/logger';
import type { Metrics } from '../metrics/metrics';
import { bearerPrincipal } from './bearer';

export const METRICS_PATH = '/metrics';

/** The role whose tokens read the metrics, and nothing else. */
const MAY_READ = ['METRICS'];

/** GET /metrics on the API's port: Prometheus' text, for a METRICS token only. */
export function metricsRoute(app: AppDeps, metrics: Metrics, logger: Logger): RequestHandler {
  return async (req, res) => {
    if (!(await bearerPrincipal(app, req, res, MAY_READ, 'read the metrics'))) return;
    try {
      const text = await metrics.text();
      res.set('content-type', metrics.contentType).set('cache-control', 'no-store').send(text);
    } catch (error) {
      logger.error('metrics failed', { error: loggedError(error) });
      res.status(503).type('text').send('the metrics cannot be read now\n');
    }
  };
}

export interface MetricsListener {
  port: number;
  /** The address it is bound to. */
  address: string;
  close(): Promise<void>;
}

/**
 * A port of its own (BACKPLANE_METRICS_PORT) that serves GET /metrics without a token and
 * nothing else: no route of the API, so no tenant's data, is behind it. It answers anyone who
 * reaches it, so it binds this machine only unless told otherwise (BACKPLANE_METRICS_HOST).
 */
export async function startMetricsListener(metrics: Metrics, logger: Logger, port: number, host = '127.0.0.1'): Promise<MetricsListener> {
  const http: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== METRICS_PATH || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(path === METRICS_PATH ? 405 : 404, { 'content-type': 'text/plain' }).end(path === METRICS_PATH ? 'GET only\n' : 'not found\n');
      return;
    }
    metrics.text().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : text),
      (error: unknown) => {
        logger.error('metrics failed', { error: loggedError(error) });
        res.writeHead(503, { 'content-type': 'text/plain' }).end('the metrics cannot be read now\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => resolve());
  });
  return {
    port: (http.address() as AddressInfo).port,
    address: (http.address() as AddressInfo).address,
    close: () => new Promise<void>((resolve) => http.close(() => resolve())),
  };
}
