import {
  getNamedType,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLScalarType,
  isNonNullType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';

/** A marker in every secret the generator sends: a response or log line holding it leaked a variable's value. */
export const SECRET_MARKER = 'FUZZSECRET';

/** One request the server must refuse: a document, its variables, and what was broken. */
export interface BadInput {
  mutation: string;
  query: string;
  variables: unknown;
  broken: string;
}

/** A small seeded generator, so that a failing case can be found again from its index. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];

/** Where a value sits in the variables: the variable's name, then input fields. */
type Path = string[];

/** Values of the wrong JSON kind, for any type. */
const WRONG_KIND = [12, -1, 3.5, true, false, {}, { a: 1 }, [], [1, 2], 'text', ''];
const NUL_STRINGS = ['\u0000', 'a\u0000b', `${'x'.repeat(70_000)}\u0000`, '\u0000'.repeat(1000), 'acme/\u0000platform'];
const BAD_INTS = [2 ** 31, -(2 ** 31) - 1, 2 ** 53, 1.5, -0.5, '1', 'ten', Number.MAX_VALUE, true];
const BAD_DATES = ['0000-01-01T00:00:00Z', '2024-13-45T00:00:00Z', 'yesterday', '', '10000-01-01T00:00:00Z', 1700000000000, '2024-02-30T25:61:61Z'];
const BAD_BOOLEANS = ['true', 1, 0, 'yes', null];
const BAD_KEYS = ['__proto__', 'constructor', 'prototype', 'unknownField', 'toString'];

/**
 * A value that `type` does not accept, for the leaf the generator chose: the wrong kind, a NUL
 * in a text, an Int out of range, an enum value that does not exist, an instant no store holds.
 */
function badLeaf(random: Random, type: GraphQLInputType, name: string): { value: unknown; broken: string } {
  const named = getNamedType(type);
  const roll = random();
  // A list takes a single value as a list of one, and an empty list may be a good one.
  const isList = (type instanceof GraphQLNonNull ? type.ofType : type) instanceof GraphQLList;
  if (roll < 0.2)
    return {
      value: pick(
        random,
        WRONG_KIND.filter((value) => !fits(named, value) && !(isList && Array.isArray(value))),
      ),
      broken: 'wrong kind',
    };
  if (isNonNullType(type) && roll < 0.3) return { value: null, broken: 'null for a required value' };
  if (named instanceof GraphQLEnumType)
    return {
      value: pick(random, ['NOT_A_VALUE', named.getValues()[0].value.toLowerCase(), '', 0, `${named.getValues()[0].value}\u0000`]),
      broken: 'no such enum value',
    };
  if (named instanceof GraphQLInputObjectType) return { value: pick(random, ['text', 7, [{}], true]), broken: 'not an object' };
  if (named instanceof GraphQLScalarType) {
    switch (named.name) {
      case 'Int':
        return { value: pick(random, BAD_INTS), broken: 'not a 32-bit integer' };
      case 'Boolean':
        return {
          value: pick(
            random,
            BAD_BOOLEANS.filter((value) => value !== null || isNonNullType(type)),
          ),
          broken: 'not a boolean',
        };
      case 'DateTime':
        return { value: pick(random, BAD_DATES), broken: 'not an instant a store holds' };
      default: {
        const text = pick(random, NUL_STRINGS);
        return { value: name === 'secret' ? `${SECRET_MARKER}${text}${SECRET_MARKER}` : text, broken: 'a NUL in a text' };
      }
    }
  }
  return { value: pick(random, WRONG_KIND), broken: 'wrong kind' };
}

/** Whether a JSON value would be taken for this named type (so that it is not a bad value for it). */
function fits(named: ReturnType<typeof getNamedType>, value: unknown): boolean {
  if (named instanceof GraphQLScalarType) {
    if (named.name === 'String' || named.name === 'DateTime') return typeof value === 'string';
    if (named.name === 'ID') return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value));
    if (named.name === 'Int') return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < 2 ** 31;
    if (named.name === 'Float') return typeof value === 'number';
    if (named.name === 'Boolean') return typeof value === 'boolean';
    return true;
  }
  if (named instanceof GraphQLEnumType) return typeof value === 'string' && named.getValues().some((v) => v.name === value);
  return false;
}

/** A value `type` accepts: required fields only, lists of one, ids from `ids` by name where known. */
export function goodValue(type: GraphQLInputType, name: string, ids: Record<string, string>): unknown {
  if (type instanceof GraphQLNonNull) return goodValue(type.ofType, name, ids);
  if (type instanceof GraphQLList) return [goodValue(type.ofType, name, ids)];
  if (type instanceof GraphQLInputObjectType) {
    const value: Record<string, unknown> = {};
    for (const field of Object.values(type.getFields())) {
      if (isNonNullType(field.type) && field.defaultValue === undefined) value[field.name] = goodValue(field.type, field.name, ids);
    }
    return value;
  }
  if (type instanceof GraphQLEnumType) return type.getValues()[0].value;
  switch (type.name) {
    case 'Int':
      return 20;
    case 'Boolean':
      return true;
    case 'DateTime':
      return '2026-01-01T00:00:00Z';
    case 'ID':
      return ids[name] ?? '7c4c5e3e-8f7e-4f55-9a53-4f4b8d2a1c10';
    default:
      return name === 'secret' ? `${SECRET_MARKER}-a-valid-secret-${SECRET_MARKER}` : `fuzz ${name}`;
  }
}

/** Every input-field path under an argument, with its type: where a corruption may go. */
interface Leaf {
  path: Path;
  type: GraphQLInputType;
  /** Whether leaving it out is an error: required, and no default. */
  required: boolean;
}

function leaves(type: GraphQLInputType, path: Path, required: boolean, out: Leaf[], depth = 0): void {
  out.push({ path, type, required });
  const named = type instanceof GraphQLNonNull ? type.ofType : type;
  if (named instanceof GraphQLInputObjectType && depth < 4) {
    for (const field of Object.values(named.getFields())) {
      leaves(field.type, [...path, field.name], isNonNullType(field.type) && field.defaultValue === undefined, out, depth + 1);
    }
  }
}

function setAt(root: Record<string, unknown>, path: Path, value: unknown, remove: boolean): void {
  let node: Record<string, unknown> = root;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (remove) delete node[last];
  else Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
}

function typeString(type: GraphQLInputType): string {
  return type.toString();
}

/** The document that calls `field` with every argument as a variable of its own. */
export function documentOf(field: GraphQLField<unknown, unknown>): string {
  const definitions = field.args.map((arg: GraphQLArgument) => `$${arg.name}: ${typeString(arg.type)}`).join(', ');
  const call = field.args.map((arg) => `${arg.name}: $${arg.name}`).join(', ');
  const named = getNamedType(field.type);
  const selection = named instanceof GraphQLScalarType || named instanceof GraphQLEnumType ? '' : ' { __typename }';
  return `mutation${definitions ? `(${definitions})` : ''} { ${field.name}${call ? `(${call})` : ''}${selection} }`;
}

/**
 * `count` requests to one mutation that must each be refused: every other value is good, one is
 * broken (the wrong kind, a NUL, out of range, missing, an unknown or prototype key), or the
 * request itself is (variables that are not an object, a variable the document does not declare).
 */
export function badInputs(schema: GraphQLSchema, mutation: string, count: number, ids: Record<string, string>, seed: number): BadInput[] {
  const field = schema.getMutationType()!.getFields()[mutation];
  const random = seeded(seed);
  const query = documentOf(field);
  const targets: Leaf[] = [];
  for (const arg of field.args) leaves(arg.type, [arg.name], isNonNullType(arg.type) && arg.defaultValue === undefined, targets);
  const good = () => Object.fromEntries(field.args.map((arg) => [arg.name, goodValue(arg.type, arg.name, ids)]));
  const cases: BadInput[] = [];
  while (cases.length < count) {
    const roll = random();
    if (roll < 0.04 || targets.length === 0) {
      cases.push({ mutation, query, variables: pick(random, ['text', 42, [good()], true]), broken: 'variables not an object' });
      continue;
    }
    const variables = good();
    const target = pick(random, targets);
    // Only what a good value holds can go missing: a parent left out takes its children with it.
    const required = targets.filter((t) => t.required && t.path.length <= 2);
    if (roll < 0.12 && required.length > 0) {
      const gone = pick(random, required);
      setAt(variables, gone.path, undefined, true);
      cases.push({ mutation, query, variables, broken: `${gone.path.join('.')} missing` });
      continue;
    }
    const named = getNamedType(target.type);
    if (roll < 0.2 && named instanceof GraphQLInputObjectType) {
      setAt(variables, [...target.path, pick(random, BAD_KEYS)], pick(random, ['x', 1, { polluted: true }, null]), false);
      cases.push({ mutation, query, variables, broken: `${target.path.join('.')} with an unknown key` });
      continue;
    }
    const { value, broken } = badLeaf(random, target.type, target.path[target.path.length - 1]);
    setAt(variables, target.path, value, false);
    cases.push({ mutation, query, variables, broken: `${target.path.join('.')}: ${broken}` });
  }
  return cases;
}
