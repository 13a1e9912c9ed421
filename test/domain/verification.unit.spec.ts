import { DomainError } from '../../src/core/errors';
import { verification, verifiedOrRefuse, type VerificationCommand, type VerificationEvent } from '../../src/domain/verification';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(verification);

const attempt: VerificationEvent['data'] = {
  attemptId: 'a1',
  subject: 'ORGANIZATION',
  organizationId: null,
  gitlabUrl: 'https://gitlab.example.com',
  group: 'acme/platform',
  login: 'main-bot',
  failure: 'GROUP_NOT_FOUND',
  reason: 'GitLab at https://gitlab.example.com has no group acme/platform that main-bot can see',
};
const recordFailed = (data: VerificationEvent['data'] = attempt): VerificationCommand => ({ type: 'RecordFailedVerification', data });

describe('verification', () => {
  describe('RecordFailedVerification', () => {
    it('records a failed attempt to add an organization, with what GitLab said', () => {
      spec
        .given([])
        .when(recordFailed())
        .then([{ type: 'GitLabVerificationFailed', data: attempt }]);
    });

    it('records a failed attempt to add a credential, naming its organization', () => {
      const credentialAttempt = {
        ...attempt,
        subject: 'CREDENTIAL' as const,
        organizationId: 'o1',
        login: 'helper-1',
        failure: 'LOGIN_MISMATCH',
        reason: 'the token belongs to someone else',
      };
      spec
        .given([])
        .when(recordFailed(credentialAttempt))
        .then([{ type: 'GitLabVerificationFailed', data: credentialAttempt }]);
    });

    it('refuses to record the same attempt twice', () => {
      spec
        .given([{ type: 'GitLabVerificationFailed', data: attempt }])
        .when(recordFailed())
        .thenRefuses('CONFLICT', /verification attempt a1 is already recorded/);
    });
  });

  describe('verifiedOrRefuse', () => {
    it('keeps what a verified token can do, scopes sorted, and drops the group', () => {
      expect(verifiedOrRefuse({ ok: true, groupId: 42, scopes: ['read_repository', 'api', 'read_api'], expiresAt: '2027-01-31', gitlabUserId: 7 })).toEqual({
        scopes: ['api', 'read_api', 'read_repository'],
        expiresAt: '2027-01-31',
        gitlabUserId: 7,
      });
    });

    it('does not reorder the scopes of the check it was given', () => {
      const scopes = ['read_repository', 'read_api'];
      verifiedOrRefuse({ ok: true, groupId: null, scopes, expiresAt: null, gitlabUserId: 7 });
      expect(scopes).toEqual(['read_repository', 'read_api']);
    });

    it("refuses a failed check with GITLAB_AUTH_FAILED and GitLab's reason", () => {
      let error: unknown;
      try {
        verifiedOrRefuse({ ok: false, failure: 'EXPIRED', reason: 'the token expired on 2026-01-01: create a new one' });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe('GITLAB_AUTH_FAILED');
      expect((error as DomainError).message).toBe('the token expired on 2026-01-01: create a new one');
    });
  });
});
