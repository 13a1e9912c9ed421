import type { Actor, CommandContext } from '../core/metadata';
import type { Role } from '../domain/tenant';

export const SYSTEM_ACTOR: Actor = { kind: 'system', id: 'backplane', name: 'Backplane', role: 'SYSTEM' };

/** Backplane acting on its own in a tenant. */
export function systemPrincipal(tenantId: string, root = false): Principal {
  return { tokenId: SYSTEM_ACTOR.id, tenantId, name: SYSTEM_ACTOR.name!, role: 'ADMIN', root, system: true };
}

/** Who calls the API: an API token of one tenant, in one role. */
export interface Principal {
  tokenId: string;
  tenantId: string;
  name: string;
  role: Role;
  /** The first token of the first tenant: the only one that may create tenants. */
  root: boolean;
  /** Backplane itself, acting on its own (start-up, consequences of a tenant's creation). */
  system?: boolean;
}

export function actorOf(principal: Principal): Actor {
  if (principal.system) return SYSTEM_ACTOR;
  return { kind: 'api-token', id: principal.tokenId, name: principal.name, role: principal.role };
}

/** The context of every command a request causes: the actor from the token, never from input. */
export function commandContext(principal: Principal, correlationId: string, causationId?: string): CommandContext {
  return { tenantId: principal.tenantId, actor: actorOf(principal), correlationId, causationId };
}
