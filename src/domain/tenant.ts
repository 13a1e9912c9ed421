// Tenant: who may call the API. A tenant owns everything else; its API tokens live in its stream.
import type { Decider } from './decider';
import { DomainError } from './errors';

/** METRICS reads the process's metrics (the operator's) and nothing of the API: only the root tenant issues it. */
export const ROLES = ['ADMIN', 'OPERATOR', 'AUDITOR', 'VIEWER', 'METRICS'] as const;
export type Role = (typeof ROLES)[number];

export type TenantEvent =
  | { type: 'TenantCreated'; data: { tenantId: string; name: string; root: boolean } }
  | { type: 'ApiTokenCreated'; data: { tenantId: string; tokenId: string; name: string; role: Role } }
  | { type: 'ApiTokenRevoked'; data: { tenantId: string; tokenId: string } }
  /** How many repositories the tenant's license lets it protect at once. */
  | { type: 'LicenseSeatsSet'; data: { tenantId: string; limit: number } };

export type TenantCommand =
  | {
      type: 'CreateTenant';
      data: { tenantId: string; name: string; root: boolean; firstToken: { tokenId: string; name: string }; nameTaken: boolean };
    }
  | { type: 'CreateApiToken'; data: { tokenId: string; name: string; role: Role } }
  | { type: 'RevokeApiToken'; data: { tokenId: string } }
  | { type: 'SetLicenseSeats'; data: { count: number; known: { seatsUsed: number } } };

export interface TenantState {
  tenantId: string | null;
  /** The operator's tenant, created first: the one that may create tenants and read the metrics. */
  root: boolean;
  tokens: Record<string, { name: string; role: Role; revoked: boolean }>;
  /** null: no limit set. */
  licenseSeats: number | null;
}

export const tenant: Decider<TenantState, TenantCommand, TenantEvent> = {
  initialState: () => ({ tenantId: null, root: false, tokens: {}, licenseSeats: null }),
  evolve(state, event) {
    switch (event.type) {
      case 'TenantCreated':
        return { ...state, tenantId: event.data.tenantId, root: event.data.root };
      case 'ApiTokenCreated':
        return { ...state, tokens: { ...state.tokens, [event.data.tokenId]: { name: event.data.name, role: event.data.role, revoked: false } } };
      case 'ApiTokenRevoked':
        return { ...state, tokens: { ...state.tokens, [event.data.tokenId]: { ...state.tokens[event.data.tokenId], revoked: true } } };
      case 'LicenseSeatsSet':
        return { ...state, licenseSeats: event.data.limit };
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'CreateTenant': {
        const { tenantId, name, root, firstToken, nameTaken } = command.data;
        if (state.tenantId !== null) throw new DomainError('CONFLICT', `tenant ${tenantId} already exists`);
        if (name.trim() === '' || firstToken.name.trim() === '') throw new DomainError('INVALID_INPUT', 'a tenant and its first token need names', 'name');
        if (nameTaken) throw new DomainError('CONFLICT', `a tenant named "${name}" already exists`, 'name');
        return [
          { type: 'TenantCreated', data: { tenantId, name, root } },
          { type: 'ApiTokenCreated', data: { tenantId, tokenId: firstToken.tokenId, name: firstToken.name, role: 'ADMIN' } },
        ];
      }
      case 'CreateApiToken': {
        const tenantId = existing(state);
        const { tokenId, name, role } = command.data;
        if (state.tokens[tokenId]) throw new DomainError('CONFLICT', `API token ${tokenId} already exists`);
        if (name.trim() === '') throw new DomainError('INVALID_INPUT', 'an API token needs a name', 'name');
        // The metrics are the whole process's, every tenant's activity in them: the operator's to read.
        if (role === 'METRICS' && !state.root) throw new DomainError('FORBIDDEN', "only the root tenant (the operator's) may create METRICS tokens");
        if (Object.values(state.tokens).some((token) => !token.revoked && token.name === name)) {
          throw new DomainError('CONFLICT', `an API token named "${name}" is already active in this tenant`, 'name');
        }
        return [{ type: 'ApiTokenCreated', data: { tenantId, tokenId, name, role } }];
      }
      case 'RevokeApiToken': {
        const tenantId = existing(state);
        const token = state.tokens[command.data.tokenId];
        if (!token) throw new DomainError('NOT_FOUND', `no API token ${command.data.tokenId}`);
        if (token.revoked) return [];
        const otherAdmins = Object.entries(state.tokens).filter(([id, other]) => id !== command.data.tokenId && !other.revoked && other.role === 'ADMIN');
        if (token.role === 'ADMIN' && otherAdmins.length === 0) {
          throw new DomainError('CONFLICT', "this is the tenant's last active ADMIN token: create another ADMIN token first");
        }
        return [{ type: 'ApiTokenRevoked', data: { tenantId, tokenId: command.data.tokenId } }];
      }
      case 'SetLicenseSeats': {
        const tenantId = existing(state);
        const { count, known } = command.data;
        if (!Number.isInteger(count) || count < 0 || count > 1_000_000)
          throw new DomainError('INVALID_INPUT', 'count must be a whole number from 0 to 1000000', 'count');
        if (count < known.seatsUsed) {
          throw new DomainError(
            'CONFLICT',
            `${known.seatsUsed} repositories are protected now: unprotect ${known.seatsUsed - count} of them before lowering the limit to ${count}`,
          );
        }
        if (state.licenseSeats === count) return [];
        return [{ type: 'LicenseSeatsSet', data: { tenantId, limit: count } }];
      }
    }
  },
};

function existing(state: TenantState): string {
  if (state.tenantId === null) throw new DomainError('NOT_FOUND', 'no such tenant');
  return state.tenantId;
}

export const tenantStream = (tenantId: string) => `tenant-${tenantId}`;
