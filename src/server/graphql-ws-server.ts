import { randomUUID } from 'node:crypto';
import { GraphQLError, getOperationAST, parse, validate, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { makeServer, type Server } from 'graphql-ws';
import type { AppDeps } from '../app/deps';
import type { Principal } from '../app/principal';
import type { Logger } from '../core/logger';
import { apiPrincipal, retryAfterMsOf } from '../graphql/authenticate';
import type { GraphQLContext } from '../graphql/context';
import { formatError } from '../graphql/errors';
import { checkLimits, checkShape, parseOptions, type QueryLimits } from '../graphql/limits';
import type { Metrics } from '../metrics/metrics';
import { SocketOperations } from '../metrics/socket-operations';
import type { Refusals } from './refusals';
import type { SocketQuota } from './socket-quota';
import { SubscriptionFanOut, type SharedView } from './subscription-fan-out';
import { CLOSE_TOO_MANY_CONNECTIONS, CLOSE_TRY_AGAIN_LATER, type WebSocketLimits } from './websocket-limits';

/** What the transport knows of a socket, and the token it authenticated with once acknowledged. */
export interface SocketExtra {
  isOpen(): boolean;
  close(code: number, reason: string): void;
  tokenId?: string;
}

export interface GraphQLWsOptions {
  schema: GraphQLSchema;
  app: AppDeps;
  logger: Logger;
  limits: QueryLimits;
  socketLimits: WebSocketLimits;
  quota: SocketQuota;
  refusals: Refusals;
  metrics?: Metrics;
}

/** Checked documents kept, the one least recently used let go first, each of at most KEPT_DOCUMENT_CHARS characters. */
const DOCUMENTS_KEPT = 200;
const KEPT_DOCUMENT_CHARS = 8 * 1024;

/**
 * Documents that parsed, kept to their shape, validated and passed the cost limits, by their text:
 * a thousand clients sending one operation have it parsed and validated once. A document refused
 * is not kept (it would hold a place, and its syntax tree, for nothing); when full, the one used
 * least recently makes room, so that a stream of new texts does not push out the one in use.
 */
export class CheckedDocuments {
  readonly #kept = new Map<string, DocumentNode>();

  constructor(
    private readonly most = DOCUMENTS_KEPT,
    private readonly longest = KEPT_DOCUMENT_CHARS,
  ) {}

  get size(): number {
    return this.#kept.size;
  }

  /** The document kept for this text, now the most recently used. */
  get(text: string): DocumentNode | undefined {
    const document = this.#kept.get(text);
    if (document) {
      this.#kept.delete(text);
      this.#kept.set(text, document);
    }
    return document;
  }

  /** Keeps a document that passed every check, if its text is short enough. */
  keep(text: string, document: DocumentNode): void {
    if (text.length > this.longest || this.#kept.has(text)) return;
    if (this.#kept.size >= this.most) this.#kept.delete(this.#kept.keys().next().value!);
    this.#kept.set(text, document);
  }
}

/** Errors the edge writes itself, already in the shape clients get: not formatted again. */
const answered = new WeakSet<GraphQLError>();

/**
 * The graphql-ws protocol: a connection_init must carry a valid token within the deadline, or the
 * socket is closed (4403, 4408). Each operation authenticates again, from the connection's
 * connectionParams.authorization: a token revoked while the socket is open stops working at its
 * next operation, as over HTTP. The operation is checked and handed to graphql-ws whole, with its context.
 */
export function graphqlWsServer(options: GraphQLWsOptions): Server<SocketExtra> {
  const { schema, app, logger, limits, quota, refusals } = options;
  const operations = new SocketOperations(schema, options.metrics);
  // Each operation's view, by its context: subscriptions of one view share each event's result.
  const views = new WeakMap<object, SharedView>();
  const fanOut = new SubscriptionFanOut(undefined, (shared) => options.metrics?.subscriptionResult(shared));
  const checked = new CheckedDocuments();
  return makeServer<Record<string, unknown> | undefined, SocketExtra>({
    schema,
    subscribe: (args) => fanOut.subscribe(args, views.get(args.contextValue as object) ?? null),
    connectionInitWaitTimeout: options.socketLimits.initTimeoutMs,
    onConnect: async (ctx) => {
      let notYet = false;
      const principal = await apiPrincipal(app.db, () => app.catchingUp(), ctx.connectionParams?.authorization).catch((error: unknown) => {
        if (!(error instanceof GraphQLError)) throw error;
        notYet = retryAfterMsOf(error) !== undefined;
        return null;
      });
      if (notYet) {
        // Not known yet while the read models catch up: closed as a server asking to be tried again later.
        refusals.count('ws tokens not known yet');
        ctx.extra.close(CLOSE_TRY_AGAIN_LATER, 'The API token is not known yet: the read models are catching up');
        return false;
      }
      if (!principal) {
        refusals.count('ws unauthenticated');
        return false;
      }
      if (!ctx.extra.isOpen()) return false;
      if (!quota.admit(principal.tokenId, ctx)) {
        refusals.count('ws connections of a token');
        ctx.extra.close(CLOSE_TOO_MANY_CONNECTIONS, 'Too many connections for this API token');
        return false;
      }
      ctx.extra.tokenId = principal.tokenId;
      return true;
    },
    onClose: (ctx) => {
      if (ctx.extra.tokenId) quota.leave(ctx.extra.tokenId, ctx);
      operations.closed(ctx);
    },
    onSubscribe: async (ctx, id, payload) => {
      operations.began(ctx, id);
      const refusal = ctx.extra.tokenId ? quota.refusal(ctx.extra.tokenId, ctx) : null;
      if (refusal) {
        refusals.count('ws operations');
        const error = new GraphQLError(refusal, { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } });
        answered.add(error);
        return [error];
      }
      try {
        const principal = await apiPrincipal(app.db, () => app.catchingUp(), ctx.connectionParams?.authorization);
        let document = checked.get(payload.query);
        const known = document !== undefined;
        if (!document) {
          try {
            document = parse(payload.query, parseOptions(limits));
          } catch (error) {
            throw coded(error as GraphQLError, 'GRAPHQL_PARSE_FAILED');
          }
          checkShape(document);
          const invalid = validate(schema, document);
          if (invalid.length > 0) return invalid.map((error) => formattedError(coded(error, 'GRAPHQL_VALIDATION_FAILED'), logger));
        }
        // graphql-ws would otherwise fail on it with an error of no code: an internal error, and a log line per request.
        if (!getOperationAST(document, payload.operationName)) {
          const which = payload.operationName
            ? 'the document has no operation of that operationName'
            : 'the document holds several operations: name one in operationName';
          throw coded(new GraphQLError(which), 'OPERATION_RESOLUTION_FAILURE');
        }
        checkLimits(schema, document, payload.variables ?? undefined, payload.operationName, limits);
        // Kept only once it passed: the limits are checked again each time, with that operation's variables.
        if (!known) checked.keep(payload.query, document);
        const contextValue: GraphQLContext = { app, principal, correlationId: randomUUID() };
        if (principal) views.set(contextValue, { view: viewOf(payload, principal), context: () => viewContext(app, principal) });
        return { schema, document, variableValues: payload.variables, operationName: payload.operationName, contextValue };
      } catch (error) {
        if (error instanceof GraphQLError) return [formattedError(error, logger)];
        throw error;
      }
    },
    onOperation: (ctx, id, _payload, args, result) => {
      operations.ran(ctx, id, args, result);
    },
    onNext: (_ctx, _id, _payload, _args, result) => formatResult(result as ExecutionResult, logger),
    onError: (ctx, id, _payload, errors) => {
      const formatted = errors.map((error) => (answered.has(error) ? error : formattedError(error, logger)));
      operations.failed(ctx, id, formatted);
      return formatted;
    },
    onComplete: (ctx, id) => {
      operations.completed(ctx, id);
    },
  });
}

/**
 * What a subscription's result depends on besides the event: the operation as sent, its variables,
 * and what its principal may see (the tenant, the role, and the tenant-wide standing of a root or
 * system principal). The token itself is not in it: two tokens of one tenant and role see the same.
 */
function viewOf(payload: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null }, principal: Principal): string {
  const { tenantId, role, root, system } = principal;
  return JSON.stringify([payload.query, payload.operationName ?? null, payload.variables ?? null, tenantId, role, root, system === true]);
}

/**
 * The context a result shared by the subscribers of one view is executed with: the app, and of the
 * principal only what the view holds (tenant, role, root or system standing). A resolver that reads
 * what is one subscriber's own (its token's id and name, its correlation id) throws rather than
 * hand the first subscriber's to all of them.
 */
export function viewContext(app: AppDeps, principal: Principal): GraphQLContext {
  const { tenantId, role, root, system } = principal;
  const viewed = withheld({ tenantId, role, root, system: system === true }, ['tokenId', 'name']);
  return withheld({ app, principal: viewed }, ['correlationId']) as unknown as GraphQLContext;
}

function withheld<T extends object>(target: T, keys: string[]): T {
  for (const key of keys) {
    Object.defineProperty(target, key, {
      enumerable: false,
      get: () => {
        throw new Error(`${key} is one subscriber's own: a subscription's result shared by its view may not read it`);
      },
    });
  }
  return target;
}

function formatResult(result: ExecutionResult, logger: Logger): ExecutionResult {
  if (!result.errors?.length) return result;
  return { ...result, errors: result.errors.map((error) => formattedError(error, logger)) };
}

/** A parse or validation error, with the code Apollo gives the same error over HTTP. */
function coded(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, extensions: { code } });
}

/** The same error shape on the WebSocket as formatError gives HTTP clients, less the HTTP status Apollo takes out there. */
function formattedError(error: GraphQLError, logger: Logger): GraphQLError {
  const formatted = formatError(error.toJSON(), error, logger);
  const { http: _status, ...extensions } = formatted.extensions ?? {};
  return new GraphQLError(formatted.message, { path: error.path, extensions });
}
