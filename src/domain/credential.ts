// Credential: an additional GitLab account of an organization, so that backups spread their API use.
import type { Decider } from '../core/decider';
import { DomainError } from '../core/errors';

export type CredentialEvent =
  | { type: 'CredentialAdded'; data: { credentialId: string; organizationId: string; login: string; passwordId: string } }
  | { type: 'CredentialRemoved'; data: { credentialId: string; organizationId: string } };

export type CredentialCommand =
  | {
      type: 'AddCredential';
      data: {
        credentialId: string;
        organizationId: string;
        login: string;
        passwordId: string;
        /** The organization as it stands (null: none in this tenant), and the logins its active credentials use. */
        known: { organization: { mainLogin: string } | null; credentialLogins: string[]; passwordStored: boolean };
      };
    }
  | { type: 'RemoveCredential'; data: { credentialId: string } };

export interface CredentialState {
  status: 'none' | 'active' | 'removed';
  organizationId: string | null;
}

export const credential: Decider<CredentialState, CredentialCommand, CredentialEvent> = {
  initialState: () => ({ status: 'none', organizationId: null }),
  evolve(state, event) {
    switch (event.type) {
      case 'CredentialAdded':
        return { status: 'active', organizationId: event.data.organizationId };
      case 'CredentialRemoved':
        return { ...state, status: 'removed' };
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'AddCredential': {
        const { credentialId, organizationId, passwordId, known } = command.data;
        const login = command.data.login.trim();
        if (state.status !== 'none') throw new DomainError('CONFLICT', `credential ${credentialId} already exists`);
        if (login === '') throw new DomainError('INVALID_INPUT', 'a credential needs a login');
        if (known.organization === null) throw new DomainError('NOT_FOUND', `no organization ${organizationId}`);
        if (!known.passwordStored) throw new DomainError('NOT_FOUND', `no password ${passwordId}`);
        if (sameLogin(login, known.organization.mainLogin)) {
          throw new DomainError('CONFLICT', `${login} is the organization's main login; an additional credential must be another account`);
        }
        if (known.credentialLogins.some((other) => sameLogin(login, other))) {
          throw new DomainError('CONFLICT', `the organization already has a credential for ${login}`);
        }
        return [{ type: 'CredentialAdded', data: { credentialId, organizationId, login, passwordId } }];
      }
      case 'RemoveCredential': {
        if (state.status !== 'active') throw new DomainError('NOT_FOUND', `no credential ${command.data.credentialId}`);
        return [{ type: 'CredentialRemoved', data: { credentialId: command.data.credentialId, organizationId: state.organizationId! } }];
      }
    }
  },
};

/** GitLab usernames are case-insensitive. */
const sameLogin = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export const credentialStream = (credentialId: string) => `credential-${credentialId}`;
