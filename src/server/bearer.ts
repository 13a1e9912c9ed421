import type { Request, Response } from 'express';
import type { AppDeps } from '../app/deps';
import type { Principal } from '../app/principal';
import { authenticate, retryAfterMsOf } from '../graphql/authenticate';
import { sendError } from './http-errors';

/**
 * The caller of a plain HTTP route, by its Bearer token, if its role is among `roles`; otherwise
 * the route has been answered (401 or 403, `refused` saying what the role may not do) and null
 * comes back.
 */
export async function bearerPrincipal(app: AppDeps, req: Request, res: Response, roles: readonly string[], refused: string): Promise<Principal | null> {
  let principal: Principal | null;
  try {
    principal = await authenticate(app.db, () => app.catchingUp(), req.headers.authorization);
  } catch (error) {
    const retryAfterMs = retryAfterMsOf(error);
    if (retryAfterMs !== undefined) {
      res.set('retry-after', String(Math.ceil(retryAfterMs / 1000)));
      sendError(res, 503, 'UNAVAILABLE', (error as Error).message);
      return null;
    }
    sendError(res, 401, 'UNAUTHENTICATED', 'the API token is unknown or revoked, or the Authorization value is not "Bearer <token>"');
    return null;
  }
  if (principal === null) {
    sendError(res, 401, 'UNAUTHENTICATED', 'an API token is required: Authorization: Bearer <token>');
    return null;
  }
  if (!roles.includes(principal.role)) {
    sendError(res, 403, 'FORBIDDEN', `the ${principal.role} role may not ${refused}`);
    return null;
  }
  return principal;
}
