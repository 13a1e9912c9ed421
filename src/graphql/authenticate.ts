import { GraphQLError } from 'graphql';
import type { AppDeps } from '../app/deps';
import type { ReadModelsCatchingUpError } from '../core/errors';
import type { Principal } from '../app/principal';
import type { Role } from '../domain/tenant';
import { tokenByValue } from '../queries/tenants';

/**
 * The principal an Authorization value names. No value: null (fields then answer
 * UNAUTHENTICATED). A value that names no active token: UNAUTHENTICATED at once; but while the
 * product's read models catch up with the log (a rebuild from its start), UNAVAILABLE with a retry
 * hint: the token may be among the events not applied yet, and a client told its token is unknown
 * would take it for revoked.
 */
export async function authenticate(db: AppDeps['db'], catchingUp: AppDeps['catchingUp'], authorization: unknown): Promise<Principal | null> {
  if (authorization === undefined || authorization === null || authorization === '') return null;
  const match = typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  if (!match) throw unauthenticated('the Authorization value must be "Bearer <token>"');
  const token = await tokenByValue(db, match[1]);
  if (!token) {
    const behind = catchingUp();
    if (behind) throw notKnownYet(behind);
    throw unauthenticated('the API token is unknown or revoked');
  }
  return { tokenId: token.id, tenantId: token.tenantId, name: token.name, role: token.role as Role, root: token.root };
}

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

function notKnownYet(catchingUp: ReadModelsCatchingUpError): GraphQLError {
  const seconds = Math.ceil(catchingUp.retryAfterMs / 1000);
  return new GraphQLError(
    `the API token is not known yet: the read models are catching up with the log (${catchingUp.projections.join(', ')}); try again in ${seconds} s`,
    {
      extensions: {
        code: 'UNAVAILABLE',
        retryAfterMs: catchingUp.retryAfterMs,
        http: { status: 503, headers: new Map([['retry-after', String(seconds)]]) },
      },
    },
  );
}

/** The retry hint of an authentication refused while the read models catch up; undefined for any other failure. */
export function retryAfterMsOf(error: unknown): number | undefined {
  if (!(error instanceof GraphQLError) || error.extensions.code !== 'UNAVAILABLE') return undefined;
  return typeof error.extensions.retryAfterMs === 'number' ? error.extensions.retryAfterMs : undefined;
}

/**
 * The caller of the GraphQL API (HTTP and WebSocket). A METRICS token reads /metrics and nothing
 * of the API: it is refused here, before any document is read, whatever the operation.
 */
export async function apiPrincipal(db: AppDeps['db'], catchingUp: AppDeps['catchingUp'], authorization: unknown): Promise<Principal | null> {
  const principal = await authenticate(db, catchingUp, authorization);
  if (principal?.role === 'METRICS') {
    throw new GraphQLError('the METRICS role reads /metrics only, nothing of the API', { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
  }
  return principal;
}
