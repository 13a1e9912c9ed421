import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { GraphQLContext } from '../graphql/context';
import { checkLimits, type QueryLimits } from '../graphql/limits';

/**
 * What an HTTP operation must pass before it runs: its variables and limits, as on the
 * WebSocket, and not being a subscription, which HTTP cannot carry (graphql-js would fail on it).
 */
export function operationChecks(schema: GraphQLSchema, limits: QueryLimits): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operation }) {
          if (operation?.operation === 'subscription') {
            throw new GraphQLError('subscriptions are served over the WebSocket (graphql-ws) at this path, not over HTTP', {
              extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
            });
          }
          checkLimits(schema, document, request.variables, request.operationName, limits);
        },
      };
    },
  };
}
