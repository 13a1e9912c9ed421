// Credential: an additional GitLab account of an organization, so that backups spread their API use.
import { checkGitLabUsername } from './gitlab-username';
import type { Decider } from './decider';
import { DomainError } from './errors';
import { verifiedOrRefuse, type TokenCheck, type VerificationFailure, type VerifiedToken } from './verification';

export type CredentialEvent =
  | { type: 'CredentialAdded'; data: { credentialId: string; organizationId: string; login: string; passwordId: string; access: VerifiedToken | null } }
  | { type: 'CredentialVerified'; data: VerifiedToken & { credentialId: string; organizationId: string } }
  /** GitLab refused the token when checked again, or answered 401 to it during a task. */
  | { type: 'CredentialVerificationFailed'; data: VerificationFailure & { credentialId: string; organizationId: string } }
  /** The token entered its last EXPIRING_WITHIN_DAYS days: recorded once per credential and expiry date, by Backplane's scheduled look. */
  | { type: 'CredentialExpiring'; data: { credentialId: string; organizationId: string; expiresAt: string } }
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
        known: { organization: { mainLogin: string | null } | null; credentialLogins: string[]; passwordStored: boolean; passwordHoldsAuthorization: boolean };
        /** What GitLab said of the credential's token. */
        token: TokenCheck;
      };
    }
  | { type: 'RecordCredentialVerification'; data: { credentialId: string; token: TokenCheck } }
  /** Backplane looked at the credential's recorded expiry at `now`. */
  | { type: 'RecordCredentialExpiring'; data: { credentialId: string; now: Date } }
  | { type: 'RemoveCredential'; data: { credentialId: string } };

export interface CredentialState {
  status: 'none' | 'active' | 'removed';
  organizationId: string | null;
  /** The token's expiry day as last recorded, and the failure of its last check, if it failed. */
  expiresAt: string | null;
  failure: string | null;
  /** The expiry day a CredentialExpiring was recorded for. */
  expiringFor: string | null;
}

export const credential: Decider<CredentialState, CredentialCommand, CredentialEvent> = {
  initialState: () => ({ status: 'none', organizationId: null, expiresAt: null, failure: null, expiringFor: null }),
  evolve(state, event) {
    switch (event.type) {
      case 'CredentialAdded':
        return { ...state, status: 'active', organizationId: event.data.organizationId, expiresAt: event.data.access?.expiresAt ?? null };
      case 'CredentialRemoved':
        return { ...state, status: 'removed' };
      case 'CredentialVerified':
        return { ...state, expiresAt: event.data.expiresAt, failure: null };
      case 'CredentialVerificationFailed':
        return { ...state, failure: event.data.failure };
      case 'CredentialExpiring':
        return { ...state, expiringFor: event.data.expiresAt };
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'AddCredential': {
        const { credentialId, organizationId, passwordId, token } = command.data;
        if (state.status !== 'none') throw new DomainError('CONFLICT', `credential ${credentialId} already exists`);
        const login = admissibleCredential(command.data);
        return [{ type: 'CredentialAdded', data: { credentialId, organizationId, login, passwordId, access: verifiedOrRefuse(token) } }];
      }
      case 'RecordCredentialVerification': {
        const { credentialId, token } = command.data;
        if (state.status !== 'active') throw new DomainError('NOT_FOUND', `no credential ${credentialId}`);
        const organizationId = state.organizationId!;
        if (!token.ok) return [{ type: 'CredentialVerificationFailed', data: { credentialId, organizationId, failure: token.failure, reason: token.reason } }];
        return [{ type: 'CredentialVerified', data: { credentialId, organizationId, ...verifiedOrRefuse(token) } }];
      }
      case 'RecordCredentialExpiring': {
        const { credentialId, now } = command.data;
        if (state.status === 'none') throw new DomainError('NOT_FOUND', `no credential ${credentialId}`);
        const { expiresAt } = state;
        // Removed, or already told for this expiry day, or not (or no longer) in its last days: nothing to record.
        if (state.status !== 'active' || expiresAt === null || state.expiringFor === expiresAt) return [];
        if (credentialStatus({ removed: false, failure: state.failure, expiresAt, throttledUntil: null }, now) !== 'EXPIRING') return [];
        return [{ type: 'CredentialExpiring', data: { credentialId, organizationId: state.organizationId!, expiresAt } }];
      }
      case 'RemoveCredential': {
        if (state.status !== 'active') throw new DomainError('NOT_FOUND', `no credential ${command.data.credentialId}`);
        return [{ type: 'CredentialRemoved', data: { credentialId: command.data.credentialId, organizationId: state.organizationId! } }];
      }
    }
  },
};

/** Every rule of adding a credential but what GitLab says of its token; returns the login as recorded. */
export function admissibleCredential(data: Omit<Extract<CredentialCommand, { type: 'AddCredential' }>['data'], 'token' | 'credentialId'>): string {
  const { organizationId, passwordId, known } = data;
  const login = data.login.trim();
  if (login === '') throw new DomainError('INVALID_INPUT', 'a credential needs a login', 'login');
  checkGitLabUsername(login, 'login');
  if (known.organization === null) throw new DomainError('NOT_FOUND', `no organization ${organizationId}`, 'organizationId');
  // An SSO organization nobody has authorized yet has no main login to tell this one apart from.
  if (known.organization.mainLogin === null) {
    throw new DomainError(
      'PENDING_AUTHORIZATION',
      `organization ${organizationId} is pending authorization: open its authorizationUrl and sign in to GitLab first`,
    );
  }
  if (!known.passwordStored) throw new DomainError('NOT_FOUND', `no password ${passwordId}`, 'passwordId');
  // Its refresh token would go out as a personal access token, to wherever the credential points.
  if (known.passwordHoldsAuthorization)
    throw new DomainError('CONFLICT', `password ${passwordId} holds an SSO organization's authorization: it is no personal access token`);
  if (sameLogin(login, known.organization.mainLogin)) {
    throw new DomainError('CONFLICT', `${login} is the organization's main login; an additional credential must be another account`);
  }
  if (known.credentialLogins.some((other) => sameLogin(login, other))) {
    throw new DomainError('CONFLICT', `the organization already has a credential for ${login}`);
  }
  return login;
}

/** GitLab usernames are case-insensitive. */
const sameLogin = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export const credentialStream = (credentialId: string) => `credential-${credentialId}`;

export type CredentialStatus = 'ACTIVE' | 'EXPIRING' | 'EXPIRED' | 'REVOKED' | 'THROTTLED' | 'REMOVED';

/** Under this many days left, a token is EXPIRING: time to make a new one. */
export const EXPIRING_WITHIN_DAYS = 14;

/**
 * A credential's status from what is recorded of it: removed; REVOKED when GitLab refused the
 * token (401) since it was last verified; EXPIRED past its expiry day; THROTTLED while cooling
 * down; EXPIRING within 14 days of it, or once CredentialExpiring is recorded for its expiry day
 * (`expiringRecorded`: by a clock that may run ahead of this one); else ACTIVE.
 */
export function credentialStatus(
  facts: { removed: boolean; failure: string | null; expiresAt: string | null; throttledUntil: Date | null; expiringRecorded?: boolean },
  now: Date,
): CredentialStatus {
  if (facts.removed) return 'REMOVED';
  if (facts.failure === 'INVALID_TOKEN' || facts.failure === 'REVOKED') return 'REVOKED';
  const today = now.toISOString().slice(0, 10);
  if (facts.failure === 'EXPIRED' || (facts.expiresAt !== null && facts.expiresAt <= today)) return 'EXPIRED';
  if (facts.throttledUntil !== null && facts.throttledUntil.getTime() > now.getTime()) return 'THROTTLED';
  if (facts.expiresAt !== null && Date.parse(facts.expiresAt) - now.getTime() < EXPIRING_WITHIN_DAYS * 86_400_000) return 'EXPIRING';
  if (facts.expiringRecorded === true) return 'EXPIRING';
  return 'ACTIVE';
}
