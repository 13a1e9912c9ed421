import type { MiddlewareFn } from 'type-graphql';
import type { GraphQLContext } from '../context';

/**
 * A mutation is refused (UNAVAILABLE, with extensions.retryAfterMs) before its resolver runs while
 * read models are catching up with the log: its answer would wait minutes on them. In the schema,
 * so HTTP and the WebSocket refuse alike; after the auth check, which a global middleware follows.
 * Queries and subscriptions are served from the read models as far as they have got.
 */
export const refuseWhileCatchingUp: MiddlewareFn<GraphQLContext> = ({ context, info }, next) => {
  if (info.operation.operation === 'mutation' && info.path.prev === undefined) {
    const refusal = context.app.catchingUp();
    if (refusal) throw refusal;
  }
  return next();
};
