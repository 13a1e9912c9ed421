import { tokenById } from '../queries/tenants';
import type { AppDeps } from './deps';
import type { Principal } from './principal';

/** A subscription outlives requests: its token is checked again before each delivery. */
export function stillAllowed(deps: AppDeps, principal: Principal): () => Promise<boolean> {
  const { tenantId, tokenId, system } = principal;
  return async () => {
    if (system === true) return true;
    const token = await tokenById(deps.db, tenantId, tokenId);
    return token !== null && token.revokedAt === null;
  };
}
