import { GraphQLError } from 'graphql';
import type { AppDeps } from '../app/deps';
import type { Principal } from '../app/principal';
import type { Role } from '../domain/tenant';
import { tokenByValue } from '../queries/tenants';

/**
 * The principal an Authorization value names. No value: null (fields then answer
 * UNAUTHENTICATED). A value that names no active token: UNAUTHENTICATED at once.
 */
export async function authenticate(db: AppDeps['db'], authorization: unknown): Promise<Principal | null> {
  if (authorization === undefined || authorization === null || authorization === '') return null;
  const match = typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  if (!match) throw unauthenticated('the Authorization value must be "Bearer <token>"');
  const token = await tokenByValue(db, match[1]);
  if (!token) throw unauthenticated('the API token is unknown or revoked');
  return { tokenId: token.id, tenantId: token.tenantId, name: token.name, role: token.role as Role, root: token.root };
}

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

/**
 * The caller of the GraphQL API (HTTP and WebSocket). A METRICS token reads /metrics and nothing
 * of the API: it is refused here, before any document is read, whatever the operation.
 */
export async function apiPrincipal(db: AppDeps['db'], authorization: unknown): Promise<Principal | null> {
  const principal = await authenticate(db, authorization);
  if (principal?.role === 'METRICS') {
    throw new GraphQLError('the METRICS role reads /metrics only, nothing of the API', { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
  }
  return principal;
}
