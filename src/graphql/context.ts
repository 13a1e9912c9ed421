import type { AppDeps, Request } from '../app/deps';
import type { Principal } from '../app/principal';

/** Per request (or per WebSocket subscription): who calls, and the parts to serve them with. */
export interface GraphQLContext {
  app: AppDeps;
  /** null: no token came with the request; fields that need one answer UNAUTHENTICATED. */
  principal: Principal | null;
  correlationId: string;
}

/** The request as use cases see it; only called behind @Authorized, where a principal is certain. */
export function requestOf(context: GraphQLContext): Request {
  if (!context.principal) throw new Error('requestOf called without a principal: the field lacks @Authorized');
  return { principal: context.principal, correlationId: context.correlationId };
}

/** The tenant of the principal; needs no more of the request, so a subscription's shared result may read it. */
export function tenantOf(context: GraphQLContext): string {
  if (!context.principal) throw new Error('tenantOf called without a principal: the field lacks @Authorized');
  return context.principal.tenantId;
}

/**
 * What queries read: the read models, and nothing of the store behind them. Resolvers take it
 * from here, and reach the store only through use cases.
 */
export function readModels(context: GraphQLContext): AppDeps['db'] {
  return context.app.db;
}
