import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLSchema } from 'graphql';
import type { Metrics } from './metrics';
import { OTHER, operationLabel, operationType, outcomeOf } from './operation-label';

/** Counts and times every GraphQL operation over HTTP, by root field and outcome, from its start to its answer. */
export function operationMetrics<TContext extends object>(schema: GraphQLSchema, metrics: Metrics): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      const started = performance.now();
      return {
        async willSendResponse({ response, operation }) {
          // A document that failed to parse or validate has no resolved operation: it is "other", whatever it names.
          const resolved = operation ?? null;
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : response.body.initialResult.errors;
          metrics.operation(
            { operation: operationLabel(schema, resolved), type: operationType(resolved), outcome: outcomeOf(errors), transport: 'http' },
            (performance.now() - started) / 1000,
          );
        },
      };
    },
    // Refused before any operation was read (an unknown token, a token of the wrong role).
    async contextCreationDidFail({ error }) {
      metrics.operation({ operation: OTHER, type: 'unknown', outcome: outcomeOf([error]), transport: 'http' }, 0);
    },
  };
}
