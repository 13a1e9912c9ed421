import {
  awaitingAuthorization,
  gitlabBaseUrl,
  mainLogin,
  groupPath,
  organization,
  type OrganizationCommand,
  type OrganizationEvent,
  type OrganizationSettings,
  type RepositoriesSync,
  syncDue,
} from '../../src/domain/organization';
import type { TokenCheck } from '../../src/domain/verification';
import { DomainError } from '../../src/core/errors';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(organization);

type AddData = Extract<OrganizationCommand, { type: 'AddOrganization' }>['data'];
// GitLab's answer as it arrives: scopes in its order, not sorted.
const verifiedCheck: TokenCheck = { ok: true, groupId: 42, scopes: ['read_repository', 'read_api'], expiresAt: '2027-06-30', gitlabUserId: 7 };
const refusal = { failure: 'MISSING_SCOPES', reason: 'the token lacks the scopes read_repository: create a token with read_api and read_repository' };
const failedCheck: TokenCheck = { ok: false, ...refusal };
const recordedToken = { scopes: ['read_api', 'read_repository'], expiresAt: '2027-06-30', gitlabUserId: 7 };
const knownAll: AddData['known'] = { deviceRegistered: true, passwordStored: true, passwordHoldsAuthorization: false, sameGroupOrganizationId: null };
const add = (overrides: Partial<AddData> = {}): OrganizationCommand => ({
  type: 'AddOrganization',
  data: {
    organizationId: 'o1',
    name: 'acme/platform',
    gitlabUrl: 'https://gitlab.example.com',
    authMethod: 'TOKEN',
    login: 'main-bot',
    passwordId: 'p1',
    defaultDeviceId: 'd1',
    protectGroups: true,
    autoAddNewRepositories: false,
    repositoriesSync: { times: ['02:00'] },
    known: knownAll,
    token: verifiedCheck,
    ...overrides,
  },
});
type AddedData = Extract<OrganizationEvent, { type: 'OrganizationAdded' }>['data'];
const added = (overrides: Partial<AddedData> = {}): OrganizationEvent => ({
  type: 'OrganizationAdded',
  data: {
    organizationId: 'o1',
    provider: 'GITLAB',
    name: 'acme/platform',
    gitlabUrl: 'https://gitlab.example.com',
    authMethod: 'TOKEN',
    login: 'main-bot',
    passwordId: 'p1',
    protectGroups: true,
    autoAddNewRepositories: false,
    repositoriesSync: { times: ['02:00'] },
    defaultDeviceId: 'd1',
    gitlabGroupId: 42,
    access: recordedToken,
    ...overrides,
  },
});
const updateSettings = (settings: Partial<OrganizationSettings>): OrganizationCommand => ({
  type: 'UpdateOrganizationSettings',
  data: { organizationId: 'o1', ...settings },
});
const settingsUpdated = (changes: Partial<OrganizationSettings>): OrganizationEvent => ({
  type: 'OrganizationSettingsUpdated',
  data: { organizationId: 'o1', ...changes },
});
const changeDevice = (deviceId: string, deviceRegistered = true): OrganizationCommand => ({
  type: 'ChangeDefaultDevice',
  data: { organizationId: 'o1', deviceId, known: { deviceRegistered } },
});
const deviceChanged = (deviceId: string, previousDeviceId: string): OrganizationEvent => ({
  type: 'OrganizationDefaultDeviceChanged',
  data: { organizationId: 'o1', deviceId, previousDeviceId },
});
const recordVerification = (token: TokenCheck): OrganizationCommand => ({ type: 'RecordOrganizationVerification', data: { organizationId: 'o1', token } });
const remove: OrganizationCommand = { type: 'RemoveOrganization', data: { organizationId: 'o1' } };
const removed: OrganizationEvent = { type: 'OrganizationRemoved', data: { organizationId: 'o1' } };

const sso = (overrides: Partial<AddData> = {}): OrganizationCommand =>
  add({ authMethod: 'SSO', login: undefined, passwordId: undefined, token: null, known: { ...knownAll, passwordStored: false }, ...overrides });
const pendingAdded = added({ authMethod: 'SSO', login: null, passwordId: null, gitlabGroupId: null, access: null });
const authorize = (token: TokenCheck, overrides: { login?: string | null; passwordId?: string | null } = {}): OrganizationCommand => ({
  type: 'AuthorizeOrganization',
  data: { organizationId: 'o1', login: 'sso-admin', passwordId: 'p-sso', token, ...overrides },
});
const authorized: OrganizationEvent = {
  type: 'OrganizationAuthorized',
  data: { organizationId: 'o1', login: 'sso-admin', passwordId: 'p-sso', gitlabGroupId: 42, access: recordedToken },
};

const hours = Array.from({ length: 24 }, (_, hour) => `${String(hour).padStart(2, '0')}:00`);

// Written as GraphQL input arrives: the absent member may be null rather than missing.
const invalidSyncs: [string, unknown, RegExp][] = [
  ['neither times nor interval', {}, /exactly one of times or intervalMinutes/],
  ['both null', { times: null, intervalMinutes: null }, /exactly one of times or intervalMinutes/],
  ['both times and interval', { times: ['02:00'], intervalMinutes: 60 }, /exactly one of times or intervalMinutes/],
  ['no time', { times: [] }, /1 to 24 times of day/],
  ['25 times', { times: [...hours, '00:30'] }, /1 to 24 times of day/],
  ['a time without a leading zero', { times: ['2:00'] }, /"2:00" is not a time of day as HH:MM/],
  ['hour 24', { times: ['24:00'] }, /"24:00" is not a time of day/],
  ['minute 60', { times: ['02:60'] }, /"02:60" is not a time of day/],
  ['seconds', { times: ['02:00:00'] }, /"02:00:00" is not a time of day/],
  ['a repeated time', { times: ['02:00', '14:00', '02:00'] }, /must be distinct/],
  ['an interval under 15', { intervalMinutes: 14 }, /whole number from 15 to 1440/],
  ['an interval over 1440', { intervalMinutes: 1441 }, /whole number from 15 to 1440/],
  ['a fractional interval', { intervalMinutes: 30.5 }, /whole number from 15 to 1440/],
  ['a zero interval', { intervalMinutes: 0 }, /whole number from 15 to 1440/],
];

describe('organization', () => {
  describe('AddOrganization', () => {
    it('adds a GitLab group with its main login and settings', () => {
      spec.given([]).when(add()).then([added()]);
    });

    it('normalises the group path, the URL, the login and the order of sync times', () => {
      spec
        .given([])
        .when(
          add({
            name: '  /acme/platform/ ',
            gitlabUrl: ' https://gitlab.example.com/ ',
            login: '  main-bot ',
            repositoriesSync: { times: ['18:30', '02:00', '09:15'] },
          }),
        )
        .then([added({ repositoriesSync: { times: ['02:00', '09:15', '18:30'] } })]);
    });

    it('keeps an interval as it is, dropping an empty times member', () => {
      spec
        .given([])
        .when(add({ repositoriesSync: { times: null, intervalMinutes: 90 } as unknown as RepositoriesSync }))
        .then([added({ repositoriesSync: { intervalMinutes: 90 } })]);
    });

    it.each<[string, OrganizationEvent[]]>([
      ['active', [added()]],
      ['removed', [added(), removed]],
    ])('refuses an id already %s', (_status, history) => {
      spec
        .given(history)
        .when(add())
        .thenRefuses('CONFLICT', /organization o1 already exists/);
    });

    it.each<[string, Partial<AddData>, string, RegExp]>([
      ['no login', { login: undefined }, 'INVALID_INPUT', /TOKEN needs a login/],
      ['a blank login', { login: '  ' }, 'INVALID_INPUT', /TOKEN needs a login/],
      ['no passwordId', { passwordId: undefined }, 'INVALID_INPUT', /TOKEN needs a passwordId/],
      ['an empty passwordId', { passwordId: '' }, 'INVALID_INPUT', /TOKEN needs a passwordId/],
      ['a password that is not stored', { known: { ...knownAll, passwordStored: false } }, 'NOT_FOUND', /no password p1/],
      [
        "an SSO organization's authorization as its token",
        { known: { ...knownAll, passwordHoldsAuthorization: true } },
        'CONFLICT',
        /holds an SSO organization's authorization/,
      ],
      ['a device that is not registered', { known: { ...knownAll, deviceRegistered: false } }, 'NOT_FOUND', /no device d1/],
      ['an invalid group path', { name: 'acme//platform' }, 'INVALID_INPUT', /GitLab group's full path/],
      ['a group path that climbs', { name: '../../etc/passwd' }, 'INVALID_INPUT', /GitLab group's full path/],
      ['a group path with a segment of dots', { name: 'acme/./platform' }, 'INVALID_INPUT', /GitLab group's full path/],
      ['a group path with a segment of three dots', { name: 'acme/.../platform' }, 'INVALID_INPUT', /GitLab group's full path/],
      ['an http URL to another host', { gitlabUrl: 'http://gitlab.example.com' }, 'INVALID_INPUT', /must use https/],
      ['invalid repositoriesSync', { repositoriesSync: { intervalMinutes: 5 } }, 'INVALID_INPUT', /intervalMinutes/],
    ])('refuses %s', (_case, overrides, code, message) => {
      spec.given([]).when(add(overrides)).thenRefuses(code, message);
    });

    it('refuses a group already added on the same GitLab, naming both', () => {
      spec
        .given([])
        .when(add({ name: '/acme/platform/', gitlabUrl: 'https://gitlab.example.com/', known: { ...knownAll, sameGroupOrganizationId: 'o9' } }))
        .thenRefuses('CONFLICT', /group acme\/platform on https:\/\/gitlab\.example\.com is already organization o9/);
    });
  });

  describe('AddOrganization and what GitLab said of the token', () => {
    it('records the group id and what the token can do, scopes sorted, never the token', () => {
      spec
        .given([])
        .when(add({ token: { ok: true, groupId: 9, scopes: ['write_repository', 'api', 'read_api'], expiresAt: null, gitlabUserId: 1234 } }))
        .then([added({ gitlabGroupId: 9, access: { scopes: ['api', 'read_api', 'write_repository'], expiresAt: null, gitlabUserId: 1234 } })]);
    });

    it('records no group id when none was looked up', () => {
      spec
        .given([])
        .when(add({ token: { ...verifiedCheck, groupId: null } }))
        .then([added({ gitlabGroupId: null })]);
    });

    it("refuses a token GitLab did not accept with GITLAB_AUTH_FAILED, giving GitLab's reason", () => {
      spec
        .given([])
        .when(add({ token: failedCheck }))
        .thenRefuses('GITLAB_AUTH_FAILED', /lacks the scopes read_repository/);
    });

    // Input errors are checked before GitLab is asked, so they are what the caller hears.
    it.each<[string, Partial<AddData>, string, RegExp]>([
      ['an invalid group path', { name: 'acme//platform' }, 'INVALID_INPUT', /GitLab group's full path/],
      ['a password that is not stored', { known: { ...knownAll, passwordStored: false } }, 'NOT_FOUND', /no password p1/],
      ['invalid repositoriesSync', { repositoriesSync: { times: [] } }, 'INVALID_INPUT', /1 to 24 times/],
      ['a group already added', { known: { ...knownAll, sameGroupOrganizationId: 'o9' } }, 'CONFLICT', /already organization o9/],
    ])('refuses %s before a failed token', (_case, overrides, code, message) => {
      spec
        .given([])
        .when(add({ ...overrides, token: failedCheck }))
        .thenRefuses(code, message);
    });

    it('refuses an existing id before a failed token', () => {
      spec
        .given([added()])
        .when(add({ token: failedCheck }))
        .thenRefuses('CONFLICT', /organization o1 already exists/);
    });
  });

  describe('AddOrganization with SSO', () => {
    it('adds it pending, without login, password entry or token: nothing is verified yet', () => {
      spec.given([]).when(sso()).then([pendingAdded]);
    });

    it('needs no check of a token, and ignores a stale one', () => {
      spec
        .given([])
        .when(sso({ token: failedCheck }))
        .then([pendingAdded]);
    });

    it.each<[string, Partial<AddData>, string, RegExp]>([
      ['a login', { login: 'main-bot' }, 'INVALID_INPUT', /SSO takes no login: GitLab names the user who signs in/],
      ['a passwordId', { passwordId: 'p1' }, 'INVALID_INPUT', /SSO takes no passwordId/],
      ['an invalid group path', { name: 'acme//platform' }, 'INVALID_INPUT', /GitLab group's full path/],
      ['an http URL to another host', { gitlabUrl: 'http://gitlab.example.com' }, 'INVALID_INPUT', /must use https/],
      ['a device that is not registered', { known: { ...knownAll, deviceRegistered: false } }, 'NOT_FOUND', /no device d1/],
      ['invalid repositoriesSync', { repositoriesSync: { intervalMinutes: 5 } }, 'INVALID_INPUT', /intervalMinutes/],
      ['a group already added', { known: { ...knownAll, sameGroupOrganizationId: 'o9' } }, 'CONFLICT', /already organization o9/],
    ])('refuses %s, as with a token', (_case, overrides, code, message) => {
      spec.given([]).when(sso(overrides)).thenRefuses(code, message);
    });

    it('refuses a TOKEN organization whose token was not checked', () => {
      spec
        .given([])
        .when(add({ token: null }))
        .thenRefuses('INVALID_INPUT', /needs its token checked/);
    });
  });

  describe('RequestAuthorization', () => {
    const request: OrganizationCommand = { type: 'RequestAuthorization', data: { organizationId: 'o1' } };

    it('records that a pending organization was sent to sign in again', () => {
      spec
        .given([pendingAdded])
        .when(request)
        .then([{ type: 'OrganizationAuthorizationRequested', data: { organizationId: 'o1' } }]);
    });

    it('refuses an organization already authorized, or none', () => {
      spec
        .given([pendingAdded, authorized])
        .when(request)
        .thenRefuses('CONFLICT', /already authorized/);
      spec
        .given([added()])
        .when(request)
        .thenRefuses('CONFLICT', /already authorized/);
      spec.given([]).when(request).thenRefuses('NOT_FOUND');
    });
  });

  describe('AuthorizeOrganization', () => {
    it('completes a pending organization with the login GitLab named, its password entry and what the token can do', () => {
      spec
        .given([pendingAdded])
        .when(authorize({ ...verifiedCheck, expiresAt: null }))
        .then([
          {
            type: 'OrganizationAuthorized',
            data: { organizationId: 'o1', login: 'sso-admin', passwordId: 'p-sso', gitlabGroupId: 42, access: { ...recordedToken, expiresAt: null } },
          },
        ]);
    });

    it('records a sign-in GitLab refused and leaves the organization pending', () => {
      spec
        .given([pendingAdded])
        .when(authorize(failedCheck, { login: null, passwordId: null }))
        .then([{ type: 'OrganizationVerificationFailed', data: { organizationId: 'o1', ...refusal } }]);
      spec
        .given([pendingAdded, { type: 'OrganizationVerificationFailed', data: { organizationId: 'o1', ...refusal } }])
        .when(authorize(verifiedCheck))
        .then([expect.objectContaining({ type: 'OrganizationAuthorized' }) as unknown as OrganizationEvent]);
    });

    it('refuses an organization already authorized, or added with a token', () => {
      spec
        .given([pendingAdded, authorized])
        .when(authorize(verifiedCheck))
        .thenRefuses('CONFLICT', /o1 is already authorized/);
      spec
        .given([added()])
        .when(authorize(verifiedCheck))
        .thenRefuses('CONFLICT', /o1 is already authorized/);
    });

    it('refuses an organization that does not exist or was removed', () => {
      spec
        .given([])
        .when(authorize(verifiedCheck))
        .thenRefuses('NOT_FOUND', /no organization o1/);
      spec
        .given([pendingAdded, removed])
        .when(authorize(verifiedCheck))
        .thenRefuses('NOT_FOUND', /no organization o1/);
    });

    it('refuses a verified sign-in without the login or the password entry', () => {
      spec
        .given([pendingAdded])
        .when(authorize(verifiedCheck, { login: ' ' }))
        .thenRefuses('INVALID_INPUT', /needs the login/);
      spec
        .given([pendingAdded])
        .when(authorize(verifiedCheck, { passwordId: null }))
        .thenRefuses('INVALID_INPUT', /needs the password entry/);
    });

    it('refuses a verification while pending, saying so', () => {
      spec
        .given([pendingAdded])
        .when(recordVerification(verifiedCheck))
        .thenRefuses('PENDING_AUTHORIZATION', /o1 is pending authorization/);
    });

    it('lets the settings, the device and the removal of a pending organization be changed', () => {
      spec
        .given([pendingAdded])
        .when(updateSettings({ protectGroups: false }))
        .then([settingsUpdated({ protectGroups: false })]);
      spec
        .given([pendingAdded])
        .when(changeDevice('d2'))
        .then([deviceChanged('d2', 'd1')]);
      spec.given([pendingAdded]).when(remove).then([removed]);
    });

    it('is verified like any organization once authorized', () => {
      spec
        .given([pendingAdded, authorized])
        .when(recordVerification(verifiedCheck))
        .then([{ type: 'OrganizationVerified', data: { organizationId: 'o1', ...recordedToken } }]);
    });

    it('says what a pending organization lacks to reach GitLab', () => {
      expect(() => mainLogin({ id: 'o1', login: null, passwordId: null })).toThrow(/o1 is pending authorization: open its authorizationUrl/);
      expect(mainLogin({ id: 'o1', login: 'a', passwordId: 'p' })).toEqual({ login: 'a', passwordId: 'p' });
    });

    it('takes a new sign-in only while pending with SSO', () => {
      expect(() => awaitingAuthorization({ id: 'o1', authMethod: 'SSO', passwordId: null })).not.toThrow();
      expect(() => awaitingAuthorization({ id: 'o1', authMethod: 'SSO', passwordId: 'p' })).toThrow(/already authorized/);
      expect(() => awaitingAuthorization({ id: 'o1', authMethod: 'TOKEN', passwordId: 'p' })).toThrow(/not SSO/);
    });
  });

  describe('RecordOrganizationVerification', () => {
    it('records a token GitLab accepted again, scopes sorted', () => {
      spec
        .given([added()])
        .when(recordVerification({ ...verifiedCheck, expiresAt: '2028-01-01' }))
        .then([
          { type: 'OrganizationVerified', data: { organizationId: 'o1', scopes: ['read_api', 'read_repository'], expiresAt: '2028-01-01', gitlabUserId: 7 } },
        ]);
    });

    it('records a token GitLab refused, with the failure and its reason, without refusing the command', () => {
      spec
        .given([added()])
        .when(recordVerification(failedCheck))
        .then([{ type: 'OrganizationVerificationFailed', data: { organizationId: 'o1', ...refusal } }]);
    });

    it('leaves the organization as it was, so that later commands see its settings', () => {
      spec
        .given([
          added(),
          { type: 'OrganizationVerificationFailed', data: { organizationId: 'o1', failure: 'REVOKED', reason: 'revoked' } },
          { type: 'OrganizationVerified', data: { organizationId: 'o1', ...recordedToken } },
        ])
        .when(updateSettings({ protectGroups: true }))
        .then([]);
    });
  });

  describe('UpdateOrganizationSettings', () => {
    it.each<[string, Partial<OrganizationSettings>]>([
      ['protectGroups', { protectGroups: false }],
      ['autoAddNewRepositories', { autoAddNewRepositories: true }],
      ['times', { repositoriesSync: { times: ['03:00'] } }],
      ['an interval instead of times', { repositoriesSync: { intervalMinutes: 1440 } }],
      ['several settings at once', { protectGroups: false, autoAddNewRepositories: true, repositoriesSync: { intervalMinutes: 15 } }],
    ])('changes %s', (_case, changes) => {
      spec
        .given([added()])
        .when(updateSettings(changes))
        .then([settingsUpdated(changes)]);
    });

    it('writes only the settings that actually change', () => {
      spec
        .given([added()])
        .when(updateSettings({ protectGroups: true, autoAddNewRepositories: true, repositoriesSync: { times: ['02:00'] } }))
        .then([settingsUpdated({ autoAddNewRepositories: true })]);
    });

    it('writes times sorted', () => {
      spec
        .given([added()])
        .when(updateSettings({ repositoriesSync: { times: ['23:59', '00:00', '12:00'] } }))
        .then([settingsUpdated({ repositoriesSync: { times: ['00:00', '12:00', '23:59'] } })]);
    });

    it.each<[string, OrganizationEvent[], Partial<OrganizationSettings>]>([
      ['nothing is asked', [added()], {}],
      ['every value is the current one', [added()], { protectGroups: true, autoAddNewRepositories: false, repositoriesSync: { times: ['02:00'] } }],
      [
        'the times are the current ones in another order',
        [added({ repositoriesSync: { times: ['02:00', '14:00'] } })],
        { repositoriesSync: { times: ['14:00', '02:00'] } },
      ],
      [
        'the values are those of the last update',
        [added(), settingsUpdated({ protectGroups: false, repositoriesSync: { intervalMinutes: 60 } })],
        { protectGroups: false, repositoriesSync: { intervalMinutes: 60 } },
      ],
    ])('writes nothing when %s', (_case, history, settings) => {
      spec.given(history).when(updateSettings(settings)).then([]);
    });

    it('compares against the settings of the last update, not those the organization was added with', () => {
      spec
        .given([added(), settingsUpdated({ protectGroups: false })])
        .when(updateSettings({ protectGroups: true }))
        .then([settingsUpdated({ protectGroups: true })]);
    });

    it('refuses invalid repositoriesSync even alongside a valid change', () => {
      spec
        .given([added()])
        .when(updateSettings({ protectGroups: false, repositoriesSync: { times: [] } }))
        .thenRefuses('INVALID_INPUT', /1 to 24 times/);
    });
  });

  describe('ChangeDefaultDevice', () => {
    it('changes the default device, naming the previous one', () => {
      spec
        .given([added()])
        .when(changeDevice('d2'))
        .then([deviceChanged('d2', 'd1')]);
      spec
        .given([added(), deviceChanged('d2', 'd1')])
        .when(changeDevice('d3'))
        .then([deviceChanged('d3', 'd2')]);
    });

    it('writes nothing when the device is already the default', () => {
      spec.given([added()]).when(changeDevice('d1')).then([]);
      spec
        .given([added(), deviceChanged('d2', 'd1')])
        .when(changeDevice('d2'))
        .then([]);
    });

    it('refuses a device that is not registered', () => {
      spec
        .given([added()])
        .when(changeDevice('d2', false))
        .thenRefuses('NOT_FOUND', /no device d2/);
    });
  });

  describe('RemoveOrganization', () => {
    it('removes an active organization', () => {
      spec.given([added()]).when(remove).then([removed]);
    });
  });

  it.each<[string, OrganizationCommand]>([
    ['UpdateOrganizationSettings', updateSettings({ protectGroups: false })],
    ['ChangeDefaultDevice', changeDevice('d2')],
    ['RemoveOrganization', remove],
    ['RecordOrganizationVerification (verified)', recordVerification(verifiedCheck)],
    ['RecordOrganizationVerification (failed)', recordVerification(failedCheck)],
  ])('refuses %s on an organization that does not exist or was removed', (_name, command) => {
    spec
      .given([])
      .when(command)
      .thenRefuses('NOT_FOUND', /no organization o1/);
    spec
      .given([added(), removed])
      .when(command)
      .thenRefuses('NOT_FOUND', /no organization o1/);
  });

  describe('repositoriesSync rules', () => {
    it.each(invalidSyncs)('refuses %s', (_case, sync, message) => {
      const repositoriesSync = sync as RepositoriesSync;
      spec.given([]).when(add({ repositoriesSync })).thenRefuses('INVALID_INPUT', message);
      spec.given([added()]).when(updateSettings({ repositoriesSync })).thenRefuses('INVALID_INPUT', message);
    });

    it.each<[string, RepositoriesSync, RepositoriesSync]>([
      ['one time', { times: ['00:00'] }, { times: ['00:00'] }],
      ['24 distinct times', { times: [...hours].reverse() }, { times: hours }],
      ['the shortest interval', { intervalMinutes: 15 }, { intervalMinutes: 15 }],
      ['the longest interval', { intervalMinutes: 1440 }, { intervalMinutes: 1440 }],
      ['an interval beside a null times', { intervalMinutes: 30, times: null } as unknown as RepositoriesSync, { intervalMinutes: 30 }],
    ])('accepts %s', (_case, sync, written) => {
      spec
        .given([])
        .when(add({ repositoriesSync: sync }))
        .then([added({ repositoriesSync: written })]);
    });
  });

  describe('syncDue', () => {
    const at = (iso: string) => new Date(iso);

    it.each<[string, RepositoriesSync]>([
      ['times', { times: ['02:00'] }],
      ['an interval', { intervalMinutes: 60 }],
    ])('is due when the list was never synced (%s)', (_case, sync) => {
      expect(syncDue(sync, null, at('2026-03-01T00:00:00Z'))).toBe(true);
    });

    it('is due once the interval has gone by since the last start, not before', () => {
      const last = at('2026-03-01T10:00:00Z');
      expect(syncDue({ intervalMinutes: 60 }, last, at('2026-03-01T10:59:59Z'))).toBe(false);
      expect(syncDue({ intervalMinutes: 60 }, last, at('2026-03-01T11:00:00Z'))).toBe(true);
      expect(syncDue({ intervalMinutes: 60 }, last, at('2026-03-03T08:00:00Z'))).toBe(true);
    });

    it('reads an interval beside a null times', () => {
      expect(syncDue({ times: null, intervalMinutes: 15 }, at('2026-03-01T10:00:00Z'), at('2026-03-01T10:15:00Z'))).toBe(true);
    });

    it('is due when a time of day has passed since the last start, not before the next one', () => {
      const sync = { times: ['02:00', '14:00'] };
      const last = at('2026-03-01T02:00:30Z');
      expect(syncDue(sync, last, at('2026-03-01T13:59:59Z'))).toBe(false);
      expect(syncDue(sync, last, at('2026-03-01T14:00:00Z'))).toBe(true);
    });

    it("counts a slot of the day before when today's has not come yet", () => {
      const sync = { times: ['23:00'] };
      expect(syncDue(sync, at('2026-03-01T22:00:00Z'), at('2026-03-02T01:00:00Z'))).toBe(true);
      expect(syncDue(sync, at('2026-03-01T23:00:10Z'), at('2026-03-02T22:59:59Z'))).toBe(false);
    });

    it('syncs once for any number of missed slots, then waits for the next one', () => {
      const sync = { times: ['02:00', '08:00', '14:00', '20:00'] };
      // Down for two days: many slots missed, one sync covers them.
      const now = at('2026-03-03T09:00:00Z');
      expect(syncDue(sync, at('2026-03-01T02:00:00Z'), now)).toBe(true);
      expect(syncDue(sync, now, at('2026-03-03T09:30:00Z'))).toBe(false);
      expect(syncDue(sync, now, at('2026-03-03T13:59:59Z'))).toBe(false);
      expect(syncDue(sync, now, at('2026-03-03T14:00:00Z'))).toBe(true);
    });
  });

  // The decider cases above show these normalisers are applied; their full range of inputs is cheaper to pin down here.
  describe.each<[string, (raw: string) => string, [string, string][], [string, RegExp][]]>([
    [
      'groupPath',
      groupPath,
      [
        ['acme', 'acme'],
        ['acme/platform', 'acme/platform'],
        [' acme/platform ', 'acme/platform'],
        ['/acme/platform/', 'acme/platform'],
        ['//acme/platform//', 'acme/platform'],
        ['Acme_1/sub.group/my-team', 'Acme_1/sub.group/my-team'],
      ],
      [
        ...['', '  ', '/', 'acme//platform', 'acme/-team', '-acme', 'acme platform', 'https://gitlab.com/acme', 'acme/ä'].map((raw): [string, RegExp] => [
          raw,
          /must be a GitLab group's full path such as "acme\/platform"/,
        ]),
        ['acme//platform', /got "acme\/\/platform"/],
      ],
    ],
    [
      'gitlabBaseUrl',
      gitlabBaseUrl,
      [
        ['https://gitlab.example.com', 'https://gitlab.example.com'],
        ['https://gitlab.example.com/', 'https://gitlab.example.com'],
        ['  https://gitlab.example.com//  ', 'https://gitlab.example.com'],
        ['https://GitLab.Example.com:8443/gitlab/', 'https://gitlab.example.com:8443/gitlab'],
        ['http://localhost:8080/', 'http://localhost:8080'],
        ['http://LOCALHOST', 'http://localhost'],
        ['http://127.0.0.1', 'http://127.0.0.1'],
        ['http://127.1.2.3:3000/gitlab', 'http://127.1.2.3:3000/gitlab'],
        ['http://[::1]:8080/', 'http://[::1]:8080'],
      ],
      [
        ['gitlab.example.com', /absolute URL/],
        ['', /absolute URL/],
        ['not a url', /absolute URL/],
        ['http://gitlab.example.com', /must use https \(plain http is allowed only to a loopback address\)/],
        ['http://10.0.0.1', /must use https/],
        ['http://localhost.example.com', /must use https/],
        ['http://127.0.0.1.example.com', /must use https/],
        ['ftp://gitlab.example.com', /must use https/],
        ['https://bot:secret@gitlab.example.com', /must not carry credentials, a query or a fragment/],
        ['https://bot@gitlab.example.com', /must not carry credentials/],
        ['https://gitlab.example.com/?private_token=x', /must not carry credentials, a query/],
        ['https://gitlab.example.com/#top', /a fragment/],
        ['http://user:pw@localhost', /must not carry credentials/],
      ],
    ],
  ])('%s', (_name, normalise, accepted, refused) => {
    it.each(accepted)('reads %j as %j', (raw, expected) => {
      expect(normalise(raw)).toBe(expected);
    });

    it.each(refused)('refuses %j (%p)', (raw, message) => {
      let error: unknown;
      try {
        normalise(raw);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe('INVALID_INPUT');
      expect((error as DomainError).message).toMatch(message);
    });
  });
});
