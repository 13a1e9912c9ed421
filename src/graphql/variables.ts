import {
  coerceInputValue,
  getVariableValues,
  GraphQLError,
  isInputType,
  Kind,
  print,
  typeFromAST,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type VariableDefinitionNode,
} from 'graphql';

/**
 * Refuses variables that do not fit their declared types before anything else reads them, as
 * BAD_USER_INPUT naming each variable and its type. graphql-js quotes the value in its messages,
 * and a value may be a secret: the answer names the variable only, and its message is not kept.
 */
export function checkVariables(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName?: string | null,
): void {
  const given = variables ?? {};
  // Before graphql-js coerces them (and the complexity counter after it): a megabyte of list items
  // is walked once, not three times. Variables the operation does not declare too: whatever keeps
  // the request (a subscription's) holds them as well. Their own object is one level more.
  const budget = { left: MAX_VALUES, depth: MAX_DEPTH + 1 };
  if (!withinValues(given, budget)) {
    const what = budget.depth < 0 ? `are nested more than ${MAX_DEPTH} levels deep` : `hold more than ${MAX_VALUES} values`;
    throw new GraphQLError(`the variables ${what}`, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
  }
  const operation = operationOf(document, operationName);
  if (!operation?.variableDefinitions?.length) return;
  const { errors } = getVariableValues(schema, operation.variableDefinitions, given, { maxErrors: operation.variableDefinitions.length });
  if (!errors?.length) return;
  const invalid = new Map<string, string>();
  for (const error of errors) {
    const definition = error.nodes?.find((node) => node.kind === Kind.VARIABLE_DEFINITION);
    if (definition?.kind !== Kind.VARIABLE_DEFINITION) continue;
    const name = definition.variable.name.value;
    const where = wrongPaths(schema, definition, given[name]);
    invalid.set(name, `variable "$${name}" ${problem(given, name)} of type ${print(definition.type)}${where.length > 0 ? ` (at ${where.join(', ')})` : ''}`);
  }
  const message = invalid.size > 0 ? [...invalid.values()].join('; ') : 'the variables do not fit their types';
  throw new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', variables: [...invalid.keys()], http: { status: 400 } } });
}

/** Values the variables of one request may hold, list items and object fields included. */
const MAX_VALUES = 5_000;
/** Lists and objects one inside another in a variable, at most: no input of the schema nests nearly so deep. */
const MAX_DEPTH = 32;

/** Whether a value holds no more values, nor nested levels, than the budget allows; the walk stops once it does not. */
function withinValues(value: unknown, budget: { left: number; depth: number }): boolean {
  if (--budget.left < 0) return false;
  if (value === null || typeof value !== 'object') return true;
  if (--budget.depth < 0) return false;
  for (const item of Array.isArray(value) ? value : Object.values(value)) if (!withinValues(item, budget)) return false;
  budget.depth++;
  return true;
}

/** What is wrong with a variable, told from where it stands in the request rather than from graphql-js's words. */
function problem(given: Record<string, unknown>, name: string): string {
  if (!Object.hasOwn(given, name)) return 'was not given: it needs a value';
  if (given[name] === null) return 'is null: it needs a value';
  return 'must be a value';
}

/**
 * Where inside a variable's value it goes wrong, as paths of the schema's own field names and list
 * indexes (`filter.from`, `input.credentials[0].credentialId`): never a key or a value the client sent.
 */
function wrongPaths(schema: GraphQLSchema, definition: VariableDefinitionNode, value: unknown): string[] {
  const type = typeFromAST(schema, definition.type);
  if (value === undefined || value === null || !type || !isInputType(type)) return [];
  const paths = new Set<string>();
  coerceInputValue(value, type, (path) => {
    if (paths.size >= 5) return;
    const name = definition.variable.name.value;
    paths.add(path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : `${text}.${key}`), name));
  });
  return [...paths];
}

function operationOf(document: DocumentNode, operationName?: string | null): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION);
  return operationName ? operations.find((operation) => operation.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
}
