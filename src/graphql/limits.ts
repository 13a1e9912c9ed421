import {
  getNullableType,
  GraphQLError,
  GraphQLList,
  isIntrospectionType,
  Kind,
  type DocumentNode,
  type GraphQLSchema,
  type SelectionSetNode,
  type FragmentDefinitionNode,
} from 'graphql';
import { fieldExtensionsEstimator, getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { checkVariables } from './variables';

export interface QueryLimits {
  maxDepth: number;
  maxComplexity: number;
  /**
   * Aliased fields an operation may hold, fragments included. Each alias of a field resolves it
   * once more, and answers computed once (verifyAuditLog) would otherwise be copied out thousands
   * of times in one turn of the event loop.
   */
  maxAliases: number;
  /** Tokens a document may hold: the parser stops there, before validation walks a document of a megabyte. */
  maxTokens: number;
}

export const DEFAULT_LIMITS: QueryLimits = { maxDepth: 10, maxComplexity: 10_000, maxAliases: 100, maxTokens: 2_000 };

/** What graphql's parse is given, on HTTP and on the WebSocket alike. */
export function parseOptions(limits: QueryLimits): { maxTokens: number } {
  return { maxTokens: limits.maxTokens };
}

/**
 * A field costs its children once per item it may hold: a page (a field with `first`) as many as
 * it asks for, a list 20. The edges of a page are counted by the page, not again as a list.
 */
const listEstimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  // Introspection walks the schema, not the database: its lists count once, so that GraphiQL can load the schema.
  if (field.name.startsWith('__') || isIntrospectionType(type)) return 1 + childComplexity;
  if (typeof args.first === 'number') return 1 + Math.max(args.first, 1) * childComplexity;
  if (field.name === 'edges') return 1 + childComplexity;
  return 1 + (getNullableType(field.type) instanceof GraphQLList ? 20 : 1) * childComplexity;
};

/**
 * Refuses operations too deep or too costly before they run, on HTTP and on the WebSocket:
 * one request must not make the server walk the whole database. The variables are checked first:
 * the cost of a page reads them, and a value that does not fit its type is the client's mistake.
 */
export function checkLimits(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | undefined | null,
  limits: QueryLimits = DEFAULT_LIMITS,
): void {
  checkVariables(schema, document, variables, operationName);
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    if (operationName && definition.name?.value !== operationName) continue;
    // First, as it stops early: fragments spread in fragments make the other walks exponential.
    const budget = { aliases: limits.maxAliases, selections: MAX_SELECTIONS };
    if (!withinBudget(definition.selectionSet, fragments, budget)) {
      throw tooComplex(
        budget.aliases < 0 ? `the operation has more than ${limits.maxAliases} aliases` : `the operation selects more than ${MAX_SELECTIONS} fields`,
      );
    }
    const depth = depthOf(definition.selectionSet, fragments, new Set());
    if (depth > limits.maxDepth) throw tooComplex(`the operation is ${depth} levels deep; the limit is ${limits.maxDepth}`);
  }
  const complexity = complexityOf(schema, document, variables, operationName);
  if (complexity > limits.maxComplexity) throw tooComplex(`the operation's complexity is ${complexity}; the limit is ${limits.maxComplexity}`);
}

function complexityOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | undefined | null,
): number {
  try {
    return getComplexity({
      schema,
      query: document,
      variables: variables ?? {},
      operationName: operationName ?? undefined,
      estimators: [fieldExtensionsEstimator(), listEstimator],
    });
  } catch (error) {
    // graphql-query-complexity gives up past 10000 fields with an error of no code, which would answer as the server's fault.
    if (error instanceof GraphQLError && error.extensions?.code === undefined) throw tooComplex(`the operation is too large: ${error.message}`);
    throw error;
  }
}

function depthOf(selectionSet: SelectionSetNode | undefined, fragments: Map<string, FragmentDefinitionNode>, visiting: Set<string>): number {
  if (!selectionSet) return 0;
  let deepest = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value.startsWith('__')) continue;
      deepest = Math.max(deepest, 1 + depthOf(selection.selectionSet, fragments, visiting));
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      deepest = Math.max(deepest, depthOf(selection.selectionSet, fragments, visiting));
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      if (!fragment || visiting.has(name)) continue;
      visiting.add(name);
      deepest = Math.max(deepest, depthOf(fragment.selectionSet, fragments, visiting));
      visiting.delete(name);
    }
  }
  return deepest;
}

/**
 * Times one selection may ask for one response name, counting the fields its inline fragments and
 * the fragments it spreads (each once) bring in: graphql-js merges them all and compares them in pairs.
 */
const MAX_SAME_NAME = 50;

/**
 * What is checked of a document before it is validated: validation compares fields of one
 * response name in pairs, so hundreds of copies of one field would hold the event loop there,
 * before checkLimits could refuse them. Each selection set of the document is looked at once,
 * with its fragments' fields merged in as validation merges them.
 */
export function checkShape(document: DocumentNode): void {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  const merge = (selectionSet: SelectionSetNode, counts: Map<string, number>, spread: Set<string>): void => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = (selection.alias ?? selection.name).value;
        const seen = (counts.get(name) ?? 0) + 1;
        if (seen > MAX_SAME_NAME) throw tooComplex(`a selection asks for one field more than ${MAX_SAME_NAME} times`);
        counts.set(name, seen);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        merge(selection.selectionSet, counts, spread);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (!fragment || spread.has(fragment.name.value)) continue;
        spread.add(fragment.name.value);
        merge(fragment.selectionSet, counts, spread);
      }
    }
  };
  const walk = (selectionSet: SelectionSetNode | undefined): void => {
    if (!selectionSet) return;
    merge(selectionSet, new Map(), new Set());
    for (const selection of selectionSet.selections) if (selection.kind !== Kind.FRAGMENT_SPREAD) walk(selection.selectionSet);
  };
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION || definition.kind === Kind.FRAGMENT_DEFINITION) walk(definition.selectionSet);
  }
}

/** Fields an operation may select, each fragment counted where it is spread: past this it is refused before it is walked again. */
const MAX_SELECTIONS = 10_000;

/**
 * Whether the aliases and the selections under a selection set, each fragment counted where it
 * is spread, stay within the budget; the walk stops as soon as they do not, so that fragments
 * spread many times in each other cannot make the count itself long.
 */
function withinBudget(
  selectionSet: SelectionSetNode | undefined,
  fragments: Map<string, FragmentDefinitionNode>,
  budget: { aliases: number; selections: number },
  visiting = new Set<string>(),
): boolean {
  if (!selectionSet) return true;
  for (const selection of selectionSet.selections) {
    if (--budget.selections < 0) return false;
    if (selection.kind === Kind.FIELD) {
      if (selection.alias && --budget.aliases < 0) return false;
      if (!withinBudget(selection.selectionSet, fragments, budget, visiting)) return false;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      if (!withinBudget(selection.selectionSet, fragments, budget, visiting)) return false;
    } else {
      const fragment = fragments.get(selection.name.value);
      if (!fragment || visiting.has(fragment.name.value)) continue;
      visiting.add(fragment.name.value);
      const within = withinBudget(fragment.selectionSet, fragments, budget, visiting);
      visiting.delete(fragment.name.value);
      if (!within) return false;
    }
  }
  return true;
}

function tooComplex(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'QUERY_TOO_COMPLEX', http: { status: 400 } } });
}
