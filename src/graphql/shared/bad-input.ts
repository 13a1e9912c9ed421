import { GraphQLError } from 'graphql';

/** An argument the resolver itself refuses, named as class-validator's refusals name theirs. */
export function badInput(message: string, field: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', field } });
}
