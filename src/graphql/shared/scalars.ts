import { GraphQLError, GraphQLScalarType } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';

/** The instants every store can hold: PostgreSQL has no year 0, and years past 9999 have no ISO 8601 form without a sign. */
const FIRST = new Date('0001-01-01T00:00:00Z').getTime();
const LAST = new Date('9999-12-31T23:59:59.999Z').getTime();

function inRange(value: Date): Date {
  const time = value.getTime();
  if (!(time >= FIRST && time <= LAST)) throw new GraphQLError('DateTime must be an instant from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z');
  return value;
}

const base = DateTimeResolver.toConfig();

/** graphql-scalars' DateTime, limited to the years 1 to 9999. */
export const DateTime = new GraphQLScalarType({
  ...base,
  parseValue: (value) => inRange(base.parseValue!(value) as Date),
  parseLiteral: (ast, variables) => inRange(base.parseLiteral!(ast, variables) as Date),
});

export const JSONScalar = JSONResolver;
