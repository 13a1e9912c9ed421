// Verification: what GitLab said of a token when Backplane checked it, and the record of an
// attempt that failed. A failed attempt creates nothing, but who tried what, and why GitLab
// refused, stays in the history.
import type { Decider } from './decider';
import { DomainError } from './errors';

/** What a verified token can do, as recorded: never the token itself. */
export interface VerifiedToken {
  scopes: string[];
  /** YYYY-MM-DD, or null for a token that never expires. */
  expiresAt: string | null;
  gitlabUserId: number;
}

/** Why GitLab refused a token, in GitLab's terms and in a sentence a person can act on. */
export interface VerificationFailure {
  failure: string;
  reason: string;
}

/** The outcome of checking a token against GitLab, handed to a decider as a fact. */
export type TokenCheck = ({ ok: true; groupId: number | null } & VerifiedToken) | ({ ok: false } & VerificationFailure);

/** Refuses the command when the check failed; the use case records the attempt beside it. */
export function verifiedOrRefuse(check: TokenCheck): VerifiedToken {
  if (!check.ok) throw new DomainError('GITLAB_AUTH_FAILED', check.reason);
  return { scopes: [...check.scopes].sort(), expiresAt: check.expiresAt, gitlabUserId: check.gitlabUserId };
}

export type VerificationEvent = {
  type: 'GitLabVerificationFailed';
  data: VerificationFailure & {
    attemptId: string;
    /** What was being added. */
    subject: 'ORGANIZATION' | 'CREDENTIAL';
    /** The organization a credential was for; null for a new organization. */
    organizationId: string | null;
    gitlabUrl: string;
    group: string | null;
    login: string;
  };
};

export type VerificationCommand = { type: 'RecordFailedVerification'; data: VerificationEvent['data'] };

export interface VerificationState {
  recorded: boolean;
}

export const verification: Decider<VerificationState, VerificationCommand, VerificationEvent> = {
  initialState: () => ({ recorded: false }),
  evolve: () => ({ recorded: true }),
  decide(command, state) {
    if (state.recorded) throw new DomainError('CONFLICT', `verification attempt ${command.data.attemptId} is already recorded`);
    return [{ type: 'GitLabVerificationFailed', data: command.data }];
  },
};

export const verificationStream = (attemptId: string) => `verification-${attemptId}`;
