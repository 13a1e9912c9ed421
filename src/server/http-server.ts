import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import type { GraphQLSchema } from 'graphql';
import { OAUTH_CALLBACK_PATH, type AppDeps } from '../app/deps';
import { completeAuthorization } from '../app/sso';
import { loggedError, type Logger } from '../core/logger';
import { apiPrincipal } from '../graphql/authenticate';
import type { GraphQLContext } from '../graphql/context';
import { formatError } from '../graphql/errors';
import { graphiqlRouter } from '../graphql/graphiql';
import { DEFAULT_LIMITS, parseOptions, type QueryLimits } from '../graphql/limits';
import { AUDIT_EXPORT_PATH, auditExport } from './audit-export';
import { AUDIT_KEYS_PATH, auditKeys } from './audit-keys';
import { consoleRouter } from './console';
import { BODY_LIMIT_BYTES, errorHandler, notFound, refuseBodyNotUtf8 } from './http-errors';
import type { Metrics } from '../metrics/metrics';
import { operationMetrics } from '../metrics/graphql-plugin';
import { METRICS_PATH, metricsRoute } from './metrics-route';
import { operationChecks } from './operation-checks';
import { Refusals } from './refusals';
import { shapeCheck } from './shape-check';
import { ARCHIVE_PATH, snapshotArchive } from './snapshot-archive';
import { startWebSocket } from './websocket';
import { DEFAULT_WEBSOCKET_LIMITS, type WebSocketLimits } from './websocket-limits';

export interface ServerOptions {
  schema: GraphQLSchema;
  app: AppDeps;
  logger: Logger;
  port: number;
  host?: string;
  limits?: QueryLimits;
  webSocket?: WebSocketLimits;
  /** This process's metrics: counted here, served on /metrics to METRICS tokens. */
  metrics?: Metrics;
  /** Whether the read models are up to date and the stores answer: what /readyz reports. */
  ready(): Promise<{ ready: boolean; detail: Record<string, unknown> }>;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const GRAPHQL_PATH = '/graphql';

/** GraphQL over HTTP and over graphql-ws on one port and one path, the offline GraphiQL page, and the health checks. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { schema, app, logger } = options;
  const limits = options.limits ?? DEFAULT_LIMITS;
  const http: Server = createServer();
  const refusals = new Refusals(logger);
  const webSocket = startWebSocket(http, GRAPHQL_PATH, {
    schema,
    app,
    logger,
    limits,
    socketLimits: options.webSocket ?? DEFAULT_WEBSOCKET_LIMITS,
    refusals,
    metrics: options.metrics,
  });

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    includeStacktraceInErrorResponses: false,
    // The service stops itself on SIGTERM and SIGINT (src/main.ts), its background work first:
    // Apollo's own handler would stop the API server and send the signal again, which reads as a
    // second signal, "stop at once".
    stopOnTerminationSignals: false,
    parseOptions: parseOptions(limits),
    formatError: (formatted, error) => formatError(formatted, error, logger),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: http }),
      ApolloServerPluginLandingPageDisabled(),
      {
        async serverWillStart() {
          return { drainServer: async () => webSocket.dispose() };
        },
      },
      operationChecks(schema, limits),
      ...(options.metrics ? [operationMetrics<GraphQLContext>(schema, options.metrics)] : []),
    ],
  });
  await apollo.start();

  const web = express();
  web.disable('x-powered-by');
  web.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  web.get('/readyz', async (_req, res) => {
    try {
      const { ready, detail } = await options.ready();
      res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', ...detail });
    } catch {
      res.status(503).json({ status: 'not ready' });
    }
  });
  // GitLab sends the browser back here after an SSO sign-in. No API token: the state authenticates it.
  web.get(OAUTH_CALLBACK_PATH, async (req, res) => {
    const param = (name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);
    res.set('cache-control', 'no-store').set('referrer-policy', 'no-referrer');
    try {
      const outcome = await completeAuthorization(app, {
        state: param('state'),
        code: param('code'),
        error: param('error'),
        errorDescription: param('error_description'),
      });
      if (outcome.retryAfterSeconds !== undefined) res.set('retry-after', String(outcome.retryAfterSeconds));
      res.status(outcome.status).type('html').send(page(outcome.title, outcome.message));
    } catch (error) {
      logger.error('SSO callback failed', { error: loggedError(error) });
      res.status(500).type('html').send(page('Not authorized', 'The sign-in could not be completed on the server: try again from Backplane.'));
    }
  });
  web.get(ARCHIVE_PATH, snapshotArchive(app, logger));
  web.get(AUDIT_KEYS_PATH, auditKeys(app, logger));
  web.get(AUDIT_EXPORT_PATH, auditExport(app, logger));
  if (options.metrics) web.get(METRICS_PATH, metricsRoute(app, options.metrics, logger));
  web.use(consoleRouter());
  web.use(graphiqlRouter({ endpoint: GRAPHQL_PATH }));
  web.use(
    GRAPHQL_PATH,
    express.json({ limit: BODY_LIMIT_BYTES, verify: refuseBodyNotUtf8 }),
    shapeCheck(limits),
    expressMiddleware(apollo, {
      context: async ({ req }) => ({
        app,
        principal: await apiPrincipal(app.db, () => app.catchingUp(), req.headers.authorization),
        correlationId: randomUUID(),
      }),
    }),
  );
  web.use(notFound);
  web.use(errorHandler(logger, refusals));
  http.on('request', web);
  // CONNECT (a proxy's method) never reaches the routes, and Node drops such a socket without a word.
  http.on('connect', (_req, socket: Duplex) => {
    const body = JSON.stringify({ errors: [{ message: 'CONNECT is not served here', extensions: { code: 'BAD_REQUEST' } }] });
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  return {
    url: `http://${options.host && options.host !== '0.0.0.0' ? options.host : 'localhost'}:${port}${GRAPHQL_PATH}`,
    port,
    async close() {
      await apollo.stop();
      refusals.flush();
      if (http.listening) await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** The callback's answer to a person in a browser. */
function page(title: string, message: string): string {
  const text = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><html><head><meta charset="utf-8"><title>Backplane: ${text(title)}</title></head><body><h1>${text(title)}</h1><p>${text(message)}</p></body></html>\n`;
}
