import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import { clientCodeOf } from '../graphql/errors';

/** Operations whose root fields the schema does not know, or that could not be read at all. */
export const OTHER = 'other';

/**
 * The operation as metrics name it: its one root field when the schema has it ("togglePlanCredential"),
 * "introspection", "multiple" for several fields, else "other". Never the client's operationName:
 * clients choose it, and a label that takes any value would grow without bound.
 */
export function operationLabel(schema: GraphQLSchema, operation: OperationDefinitionNode | null | undefined): string {
  if (!operation) return OTHER;
  const root =
    operation.operation === 'query' ? schema.getQueryType() : operation.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  const names = new Set<string>();
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== 'Field') return OTHER;
    if (selection.name.value !== '__typename') names.add(selection.name.value);
  }
  if ([...names].some((name) => name.startsWith('__'))) return 'introspection';
  if (names.size > 1) return 'multiple';
  const [name] = names;
  return name !== undefined && root?.getFields()[name] !== undefined ? name : OTHER;
}

/** query, mutation, subscription, or unknown when no operation was resolved. */
export function operationType(operation: OperationDefinitionNode | null | undefined): string {
  return operation?.operation ?? 'unknown';
}

/** The operation a document names, when it can be told without executing it. */
export function operationOf(document: DocumentNode | undefined, operationName: string | null | undefined): OperationDefinitionNode | null {
  const operations = (document?.definitions ?? []).filter((definition): definition is OperationDefinitionNode => definition.kind === 'OperationDefinition');
  if (operationName) return operations.find((operation) => operation.name?.value === operationName) ?? null;
  return operations.length === 1 ? operations[0] : null;
}

/** "ok", or the code the client was answered with for the first error (a fixed set: see graphql/errors.ts). */
export function outcomeOf(errors: readonly unknown[] | undefined): string {
  if (!errors || errors.length === 0) return 'ok';
  // Over the WebSocket the result is counted before it is formatted: a BackplaneError still has no code of its own.
  return clientCodeOf(errors[0]);
}
