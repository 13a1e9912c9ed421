import { randomUUID } from 'node:crypto';
import { newApiToken } from '../auth/api-tokens';
import { DomainError } from '../core/errors';
import { LOCAL_DEVICE_NAME } from '../domain/device';
import { tenant, tenantStream, type Role } from '../domain/tenant';
import { tenantNameTaken, tokenById } from '../queries/tenants';
import type { ApiTokenView } from '../queries/views';
import { execute, write, writeWith, type AppDeps, type Request } from './deps';
import { registerDevice } from './devices';
import { found } from './found';
import { systemPrincipal } from './principal';

/** A token as issued: its value is shown this once and kept nowhere. */
export interface IssuedToken {
  token: string;
  principal: ApiTokenView;
}

export const DEFAULT_TENANT_ID = 'default';

/** Only the root administrator creates tenants; each comes with its first ADMIN token and its device "local". */
export async function createTenant(deps: AppDeps, request: Request, name: string): Promise<IssuedToken> {
  if (!request.principal.root) throw new DomainError('FORBIDDEN', 'only the root administrator creates tenants');
  return deps.tenantLock.run('tenants', () => openTenant(deps, request, { tenantId: randomUUID(), name: name.trim(), root: false }));
}

async function openTenant(deps: AppDeps, request: Request, options: { tenantId: string; name: string; root: boolean; token?: string }): Promise<IssuedToken> {
  const { tenantId, name, root } = options;
  const tokenId = randomUUID();
  const token = options.token ?? newApiToken();
  const nameTaken = await tenantNameTaken(deps.db, name);
  await deps.tokens.keep(tenantId, tokenId, token);
  const stream = tenantStream(tenantId);
  const creation = await writeWith(
    deps,
    stream,
    () =>
      write(deps, { ...request, principal: { ...request.principal, tenantId } }, tenant, stream, {
        type: 'CreateTenant',
        data: { tenantId, name, root, firstToken: { tokenId, name: 'first administrator' }, nameTaken },
      }),
    () => deps.tokens.discard(tokenId),
  );
  await registerDevice(
    deps,
    { principal: systemPrincipal(tenantId), correlationId: request.correlationId },
    { name: LOCAL_DEVICE_NAME },
    { builtIn: true, causationId: creation.eventIds[0] },
  );
  return { token, principal: found(await tokenById(deps.db, tenantId, tokenId), 'API token', tokenId) };
}

/**
 * On a store that holds no tenant, creates tenant "default" whose first token, the root
 * administrator, is `token`. Returns null when a tenant exists (another process may have won).
 */
export function bootstrapTenant(deps: AppDeps, token: string): Promise<IssuedToken | null> {
  // Under the lock that createTenant takes: of processes starting together, one creates it.
  return deps.tenantLock.run('tenants', async () => {
    const [existing] = await deps.store.readAll({ filter: { eventTypes: ['TenantCreated'] }, maxCount: 1 });
    if (existing) return null;
    return openTenant(
      deps,
      { principal: systemPrincipal(DEFAULT_TENANT_ID, true), correlationId: randomUUID() },
      { tenantId: DEFAULT_TENANT_ID, name: 'default', root: true, token },
    );
  });
}

export async function createApiToken(deps: AppDeps, request: Request, input: { name: string; role: Role }): Promise<IssuedToken> {
  const { tenantId } = request.principal;
  const tokenId = randomUUID();
  const token = newApiToken();
  await deps.tokens.keep(tenantId, tokenId, token);
  const stream = tenantStream(tenantId);
  await writeWith(
    deps,
    stream,
    () => write(deps, request, tenant, stream, { type: 'CreateApiToken', data: { tokenId, name: input.name.trim(), role: input.role } }),
    () => deps.tokens.discard(tokenId),
  );
  return { token, principal: found(await tokenById(deps.db, tenantId, tokenId), 'API token', tokenId) };
}

export async function revokeApiToken(deps: AppDeps, request: Request, tokenId: string): Promise<ApiTokenView> {
  const { tenantId } = request.principal;
  const token = found(await tokenById(deps.db, tenantId, tokenId), 'API token', tokenId);
  // Creating tenants is the root's alone; no other administrator may take that away.
  if (token.root && !request.principal.root) throw new DomainError('FORBIDDEN', "only the root administrator may revoke the root administrator's token");
  await execute(deps, request, tenant, tenantStream(tenantId), { type: 'RevokeApiToken', data: { tokenId } });
  return found(await tokenById(deps.db, tenantId, tokenId), 'API token', tokenId);
}
