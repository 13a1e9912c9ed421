import { GraphQLError } from 'graphql';
import type { AuthChecker } from 'type-graphql';
import type { Role } from '../domain/tenant';
import type { Request } from '../app/deps';
import { requestOf, type GraphQLContext } from './context';

/** Who may do what. Every resolver names one of these in @Authorized. */
export const Roles = {
  readers: ['ADMIN', 'OPERATOR', 'AUDITOR', 'VIEWER'],
  operators: ['ADMIN', 'OPERATOR'],
  auditors: ['ADMIN', 'AUDITOR'],
  admins: ['ADMIN'],
} satisfies Record<string, Role[]>;

export const authChecker: AuthChecker<GraphQLContext, Role> = ({ context }, roles) => checkRoles(context, roles);

/** Throws UNAUTHENTICATED without a principal, FORBIDDEN when its role is not among `roles`. */
export function checkRoles(context: GraphQLContext, roles: readonly Role[]): true {
  if (!context.principal) {
    throw new GraphQLError('an API token is required: send Authorization: Bearer <token>', { extensions: { code: 'UNAUTHENTICATED' } });
  }
  if (roles.length > 0 && !roles.includes(context.principal.role)) {
    throw new GraphQLError(`the ${context.principal.role} role may not do this`, { extensions: { code: 'FORBIDDEN' } });
  }
  return true;
}

/** Subscriptions are checked here: type-graphql's @Authorized guards resolving, not subscribing. */
export function authorize(context: GraphQLContext, roles: Role[]): Request {
  checkRoles(context, roles);
  return requestOf(context);
}
