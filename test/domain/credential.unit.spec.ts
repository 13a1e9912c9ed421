import { credential, credentialStatus, EXPIRING_WITHIN_DAYS, type CredentialCommand, type CredentialEvent } from '../../src/domain/credential';
import type { TokenCheck } from '../../src/domain/verification';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(credential);

// GitLab's answer as it arrives: scopes in its order, not sorted.
const verifiedCheck: TokenCheck = { ok: true, groupId: 42, scopes: ['read_repository', 'read_api'], expiresAt: '2027-06-30', gitlabUserId: 8 };
const refusal = { failure: 'LOGIN_MISMATCH', reason: 'the token belongs to GitLab user someone-else, not helper-2' };
const failedCheck: TokenCheck = { ok: false, ...refusal };
const recordedToken = { scopes: ['read_api', 'read_repository'], expiresAt: '2027-06-30', gitlabUserId: 8 };

type AddData = Extract<CredentialCommand, { type: 'AddCredential' }>['data'];
const known = (overrides: Partial<AddData['known']> = {}): AddData['known'] => ({
  organization: { mainLogin: 'Main-Bot' },
  credentialLogins: ['helper-1'],
  passwordStored: true,
  passwordHoldsAuthorization: false,
  ...overrides,
});
const add = (overrides: Partial<AddData> = {}): CredentialCommand => ({
  type: 'AddCredential',
  data: { credentialId: 'c1', organizationId: 'o1', login: 'helper-2', passwordId: 'p1', known: known(), token: verifiedCheck, ...overrides },
});
const remove: CredentialCommand = { type: 'RemoveCredential', data: { credentialId: 'c1' } };
const recordVerification = (token: TokenCheck): CredentialCommand => ({ type: 'RecordCredentialVerification', data: { credentialId: 'c1', token } });

const added: CredentialEvent = {
  type: 'CredentialAdded',
  data: { credentialId: 'c1', organizationId: 'o1', login: 'helper-2', passwordId: 'p1', access: recordedToken },
};
const removed: CredentialEvent = { type: 'CredentialRemoved', data: { credentialId: 'c1', organizationId: 'o1' } };

describe('credential', () => {
  describe('AddCredential', () => {
    it('adds another account of the organization', () => {
      spec.given([]).when(add()).then([added]);
    });

    it('trims the login', () => {
      spec
        .given([])
        .when(add({ login: '  helper-2\t' }))
        .then([added]);
    });

    it.each<[string, CredentialEvent[]]>([
      ['active', [added]],
      ['removed', [added, removed]],
    ])('refuses an id already %s', (_status, history) => {
      spec
        .given(history)
        .when(add())
        .thenRefuses('CONFLICT', /credential c1 already exists/);
    });

    it.each(['', '   '])('refuses a blank login %j', (login) => {
      spec
        .given([])
        .when(add({ login }))
        .thenRefuses('INVALID_INPUT', /needs a login/);
    });

    it('refuses an organization the tenant does not have', () => {
      spec
        .given([])
        .when(add({ known: known({ organization: null }) }))
        .thenRefuses('NOT_FOUND', /no organization o1/);
    });

    it('refuses an SSO organization nobody has authorized yet, saying it is pending', () => {
      spec
        .given([])
        .when(add({ known: known({ organization: { mainLogin: null } }) }))
        .thenRefuses('PENDING_AUTHORIZATION', /organization o1 is pending authorization/);
    });

    it('refuses a password entry that is not stored', () => {
      spec
        .given([])
        .when(add({ known: known({ passwordStored: false }) }))
        .thenRefuses('NOT_FOUND', /no password p1/);
    });

    // GitLab usernames are case-insensitive, so "MAIN-BOT" is the same account as "Main-Bot".
    it.each(['Main-Bot', 'main-bot', ' MAIN-BOT '])('refuses the main login as %j', (login) => {
      spec
        .given([])
        .when(add({ login }))
        .thenRefuses('CONFLICT', /main login; an additional credential must be another account/);
    });

    it.each(['helper-1', 'HELPER-1', ' Helper-1 '])('refuses a login another credential uses, as %j', (login) => {
      spec
        .given([])
        .when(add({ login }))
        .thenRefuses('CONFLICT', /already has a credential for helper-1/i);
    });
  });

  describe('AddCredential and what GitLab said of the token', () => {
    it('records what the token can do, scopes sorted, never the token', () => {
      spec
        .given([])
        .when(add({ token: { ok: true, groupId: null, scopes: ['read_repository', 'api'], expiresAt: null, gitlabUserId: 99 } }))
        .then([
          {
            type: 'CredentialAdded',
            data: {
              credentialId: 'c1',
              organizationId: 'o1',
              login: 'helper-2',
              passwordId: 'p1',
              access: { scopes: ['api', 'read_repository'], expiresAt: null, gitlabUserId: 99 },
            },
          },
        ]);
    });

    it("refuses a token GitLab did not accept with GITLAB_AUTH_FAILED, giving GitLab's reason", () => {
      spec
        .given([])
        .when(add({ token: failedCheck }))
        .thenRefuses('GITLAB_AUTH_FAILED', /belongs to GitLab user someone-else/);
    });

    // Input errors are checked before GitLab is asked, so they are what the caller hears.
    it.each<[string, Partial<AddData>, string, RegExp]>([
      ['a blank login', { login: ' ' }, 'INVALID_INPUT', /needs a login/],
      ['an organization the tenant does not have', { known: known({ organization: null }) }, 'NOT_FOUND', /no organization o1/],
      ['a password entry that is not stored', { known: known({ passwordStored: false }) }, 'NOT_FOUND', /no password p1/],
      ["an SSO organization's authorization", { known: known({ passwordHoldsAuthorization: true }) }, 'CONFLICT', /holds an SSO organization's authorization/],
      ['the main login', { login: 'main-bot' }, 'CONFLICT', /main login/],
      ['a login another credential uses', { login: 'helper-1' }, 'CONFLICT', /already has a credential for helper-1/],
    ])('refuses %s before a failed token', (_case, overrides, code, message) => {
      spec
        .given([])
        .when(add({ ...overrides, token: failedCheck }))
        .thenRefuses(code, message);
    });

    it('refuses an existing id before a failed token', () => {
      spec
        .given([added])
        .when(add({ token: failedCheck }))
        .thenRefuses('CONFLICT', /credential c1 already exists/);
    });
  });

  describe('RecordCredentialVerification', () => {
    it('records a token GitLab accepted again, naming its organization', () => {
      spec
        .given([added])
        .when(recordVerification({ ...verifiedCheck, scopes: ['read_repository', 'api', 'read_api'] }))
        .then([
          {
            type: 'CredentialVerified',
            data: { credentialId: 'c1', organizationId: 'o1', scopes: ['api', 'read_api', 'read_repository'], expiresAt: '2027-06-30', gitlabUserId: 8 },
          },
        ]);
    });

    it('records a token GitLab refused, with the failure and its reason, without refusing the command', () => {
      spec
        .given([added])
        .when(recordVerification(failedCheck))
        .then([{ type: 'CredentialVerificationFailed', data: { credentialId: 'c1', organizationId: 'o1', ...refusal } }]);
    });

    it('keeps the credential active after a failure, so that it can be verified again or removed', () => {
      const failed: CredentialEvent = { type: 'CredentialVerificationFailed', data: { credentialId: 'c1', organizationId: 'o1', ...refusal } };
      spec.given([added, failed]).when(remove).then([removed]);
      spec
        .given([added, failed])
        .when(recordVerification(verifiedCheck))
        .then([{ type: 'CredentialVerified', data: { credentialId: 'c1', organizationId: 'o1', ...recordedToken } }]);
    });

    it.each<[string, CredentialEvent[], TokenCheck]>([
      ['unknown (verified)', [], verifiedCheck],
      ['unknown (failed)', [], failedCheck],
      ['removed (verified)', [added, removed], verifiedCheck],
      ['removed (failed)', [added, removed], failedCheck],
    ])('refuses a credential %s', (_status, history, token) => {
      spec
        .given(history)
        .when(recordVerification(token))
        .thenRefuses('NOT_FOUND', /no credential c1/);
    });
  });

  describe('RecordCredentialExpiring', () => {
    // The token expires on 2027-06-30 (midnight UTC): its last 14 days start just after 2027-06-16 at midnight.
    const look = (now: string): CredentialCommand => ({ type: 'RecordCredentialExpiring', data: { credentialId: 'c1', now: new Date(now) } });
    const expiring = (expiresAt = '2027-06-30'): CredentialEvent => ({
      type: 'CredentialExpiring',
      data: { credentialId: 'c1', organizationId: 'o1', expiresAt },
    });
    const verified = (expiresAt: string | null): CredentialEvent => ({
      type: 'CredentialVerified',
      data: { credentialId: 'c1', organizationId: 'o1', ...recordedToken, expiresAt },
    });
    const failed = (failure: string): CredentialEvent => ({
      type: 'CredentialVerificationFailed',
      data: { credentialId: 'c1', organizationId: 'o1', failure, reason: 'r' },
    });

    it('records a token that entered its last 14 days, with its expiry day', () => {
      spec.given([added]).when(look('2027-06-16T00:00:01Z')).then([expiring()]);
      spec.given([added]).when(look('2027-06-29T23:00:00Z')).then([expiring()]);
    });

    it('records nothing before the last 14 days, nor for a token that never expires', () => {
      spec.given([added]).when(look('2027-06-16T00:00:00Z')).then([]);
      spec
        .given([added, verified(null)])
        .when(look('2027-06-20T00:00:00Z'))
        .then([]);
    });

    it('records it once per expiry day: again only for a new token entering its own last days', () => {
      spec.given([added, expiring()]).when(look('2027-06-20T00:00:00Z')).then([]);
      spec
        .given([added, expiring(), verified('2027-06-30')])
        .when(look('2027-06-21T00:00:00Z'))
        .then([]);
      spec
        .given([added, expiring(), verified('2027-12-31')])
        .when(look('2027-06-21T00:00:00Z'))
        .then([]);
      spec
        .given([added, expiring(), verified('2027-12-31')])
        .when(look('2027-12-20T00:00:00Z'))
        .then([expiring('2027-12-31')]);
    });

    it('records nothing for a token expired, revoked or refused as expired, and again once GitLab accepts a token', () => {
      spec.given([added]).when(look('2027-06-30T00:00:00Z')).then([]);
      spec
        .given([added, failed('REVOKED')])
        .when(look('2027-06-20T00:00:00Z'))
        .then([]);
      spec
        .given([added, failed('INVALID_TOKEN')])
        .when(look('2027-06-20T00:00:00Z'))
        .then([]);
      spec
        .given([added, failed('EXPIRED')])
        .when(look('2027-06-20T00:00:00Z'))
        .then([]);
      spec
        .given([added, failed('UNREACHABLE')])
        .when(look('2027-06-20T00:00:00Z'))
        .then([expiring()]);
      spec
        .given([added, failed('REVOKED'), verified('2027-06-30')])
        .when(look('2027-06-20T00:00:00Z'))
        .then([expiring()]);
    });

    it('records nothing for a removed credential, and refuses an unknown one', () => {
      spec.given([added, removed]).when(look('2027-06-20T00:00:00Z')).then([]);
      spec
        .given([])
        .when(look('2027-06-20T00:00:00Z'))
        .thenRefuses('NOT_FOUND', /no credential c1/);
    });
  });

  describe('RemoveCredential', () => {
    it('removes an active credential, naming its organization', () => {
      spec.given([added]).when(remove).then([removed]);
    });

    it.each<[string, CredentialEvent[]]>([
      ['unknown', []],
      ['already removed', [added, removed]],
    ])('refuses a credential %s', (_status, history) => {
      spec
        .given(history)
        .when(remove)
        .thenRefuses('NOT_FOUND', /no credential c1/);
    });
  });

  describe('credentialStatus', () => {
    const now = new Date('2026-03-10T12:00:00Z');
    const facts = (overrides: Partial<Parameters<typeof credentialStatus>[0]> = {}): Parameters<typeof credentialStatus>[0] => ({
      removed: false,
      failure: null,
      expiresAt: '2027-01-01',
      throttledUntil: null,
      ...overrides,
    });

    it.each<[string, Partial<Parameters<typeof credentialStatus>[0]>, string]>([
      ['a verified token far from its expiry', {}, 'ACTIVE'],
      ['a token that never expires', { expiresAt: null }, 'ACTIVE'],
      ['a removed credential', { removed: true }, 'REMOVED'],
      ['a token GitLab refused as invalid', { failure: 'INVALID_TOKEN' }, 'REVOKED'],
      ['a token GitLab said was revoked', { failure: 'REVOKED' }, 'REVOKED'],
      ['a token GitLab said had expired', { failure: 'EXPIRED' }, 'EXPIRED'],
      ['a token whose expiry day is today', { expiresAt: '2026-03-10' }, 'EXPIRED'],
      ['a token whose expiry day is past', { expiresAt: '2026-03-01' }, 'EXPIRED'],
      ['a token cooling down', { throttledUntil: new Date('2026-03-10T12:05:00Z') }, 'THROTTLED'],
      ['a token whose cool-down is over', { throttledUntil: new Date('2026-03-10T12:00:00Z') }, 'ACTIVE'],
      ['a token expiring tomorrow', { expiresAt: '2026-03-11' }, 'EXPIRING'],
      [`a token expiring within ${EXPIRING_WITHIN_DAYS} days`, { expiresAt: '2026-03-24' }, 'EXPIRING'],
      [`a token expiring in more than ${EXPIRING_WITHIN_DAYS} days`, { expiresAt: '2026-03-25' }, 'ACTIVE'],
      ['a failure that does not speak of the token', { failure: 'UNREACHABLE' }, 'ACTIVE'],
      ['a token recorded as expiring by a clock ahead of this one', { expiringRecorded: true }, 'EXPIRING'],
    ])('is %s → %s', (_case, overrides, status) => {
      expect(credentialStatus(facts(overrides), now)).toBe(status);
    });

    it.each<[string, Partial<Parameters<typeof credentialStatus>[0]>, string]>([
      ['REMOVED over REVOKED', { removed: true, failure: 'REVOKED' }, 'REMOVED'],
      ['REMOVED over EXPIRED', { removed: true, expiresAt: '2026-01-01' }, 'REMOVED'],
      ['REVOKED over EXPIRED', { failure: 'INVALID_TOKEN', expiresAt: '2026-01-01' }, 'REVOKED'],
      ['REVOKED over THROTTLED', { failure: 'REVOKED', throttledUntil: new Date('2026-03-10T13:00:00Z') }, 'REVOKED'],
      ['EXPIRED over THROTTLED', { expiresAt: '2026-03-01', throttledUntil: new Date('2026-03-10T13:00:00Z') }, 'EXPIRED'],
      ['THROTTLED over EXPIRING', { expiresAt: '2026-03-12', throttledUntil: new Date('2026-03-10T13:00:00Z') }, 'THROTTLED'],
      ['EXPIRED over a recorded EXPIRING', { expiresAt: '2026-03-01', expiringRecorded: true }, 'EXPIRED'],
      ['REVOKED over a recorded EXPIRING', { failure: 'REVOKED', expiringRecorded: true }, 'REVOKED'],
    ])('puts %s', (_case, overrides, status) => {
      expect(credentialStatus(facts(overrides), now)).toBe(status);
    });
  });
});
