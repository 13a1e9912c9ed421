// Organization: a GitLab group added to Backplane, with its main login and its sync settings.
// With SSO it is added pending: GitLab names its main login when someone signs in and authorizes
// Backplane (OAuth 2), and until then it has no login, no password entry and reads nothing.
import { checkGitLabUsername } from './gitlab-username';
import type { Decider } from './decider';
import { DomainError } from './errors';
import { verifiedOrRefuse, type TokenCheck, type VerificationFailure, type VerifiedToken } from './verification';

export type AuthMethod = 'TOKEN' | 'SSO';
export type RepositoriesSync = { times: string[] } | { intervalMinutes: number };

export interface OrganizationSettings {
  protectGroups: boolean;
  autoAddNewRepositories: boolean;
  repositoriesSync: RepositoriesSync;
}

export type OrganizationEvent =
  | {
      type: 'OrganizationAdded';
      data: OrganizationSettings & {
        organizationId: string;
        provider: 'GITLAB';
        name: string;
        gitlabUrl: string;
        authMethod: AuthMethod;
        /** Null for SSO: GitLab names the login when the organization is authorized. */
        login: string | null;
        passwordId: string | null;
        defaultDeviceId: string;
        /** The group's id on GitLab, and what the main token could do when it was checked. */
        gitlabGroupId: number | null;
        /** Named apart from "token": the audit history hides any field named so. */
        access: VerifiedToken | null;
      };
    }
  | {
      /** An SSO organization's sign-in came back from GitLab: the user it names is the main login from now on. */
      type: 'OrganizationAuthorized';
      data: { organizationId: string; login: string; passwordId: string; gitlabGroupId: number | null; access: VerifiedToken };
    }
  /** Someone asked for a new sign-in of a pending SSO organization: earlier authorization URLs stop working. */
  | { type: 'OrganizationAuthorizationRequested'; data: { organizationId: string } }
  | { type: 'OrganizationVerified'; data: VerifiedToken & { organizationId: string } }
  | { type: 'OrganizationVerificationFailed'; data: VerificationFailure & { organizationId: string } }
  | { type: 'OrganizationSettingsUpdated'; data: Partial<OrganizationSettings> & { organizationId: string } }
  | { type: 'OrganizationDefaultDeviceChanged'; data: { organizationId: string; deviceId: string; previousDeviceId: string } }
  | { type: 'OrganizationRemoved'; data: { organizationId: string } };

export type OrganizationCommand =
  | {
      type: 'AddOrganization';
      data: OrganizationSettings & {
        organizationId: string;
        name: string;
        gitlabUrl: string;
        authMethod: AuthMethod;
        login?: string;
        passwordId?: string;
        defaultDeviceId: string;
        /** What the rest of the tenant says: looked up by the caller, judged here. */
        known: {
          deviceRegistered: boolean;
          passwordStored: boolean;
          /** The entry holds an SSO organization's GitLab authorization, which Backplane alone sends, to that GitLab alone. */
          passwordHoldsAuthorization: boolean;
          sameGroupOrganizationId: string | null;
        };
        /** What GitLab said of the main login's token, checked through the default device; null for SSO. */
        token: TokenCheck | null;
      };
    }
  | {
      /** GitLab's answer to an SSO sign-in: the user it names (when it verified) and the entry now holding the tokens. */
      type: 'AuthorizeOrganization';
      data: { organizationId: string; login: string | null; passwordId: string | null; token: TokenCheck };
    }
  | { type: 'RequestAuthorization'; data: { organizationId: string } }
  | { type: 'RecordOrganizationVerification'; data: { organizationId: string; token: TokenCheck } }
  | { type: 'UpdateOrganizationSettings'; data: Partial<OrganizationSettings> & { organizationId: string } }
  | { type: 'ChangeDefaultDevice'; data: { organizationId: string; deviceId: string; known: { deviceRegistered: boolean } } }
  | { type: 'RemoveOrganization'; data: { organizationId: string } };

export interface OrganizationState {
  status: 'none' | 'pending' | 'active' | 'removed';
  settings: OrganizationSettings | null;
  defaultDeviceId: string | null;
}

export const organization: Decider<OrganizationState, OrganizationCommand, OrganizationEvent> = {
  initialState: () => ({ status: 'none', settings: null, defaultDeviceId: null }),
  evolve(state, event) {
    switch (event.type) {
      case 'OrganizationAdded': {
        const { protectGroups, autoAddNewRepositories, repositoriesSync, defaultDeviceId } = event.data;
        const status = event.data.passwordId === null ? 'pending' : 'active';
        return { status, settings: { protectGroups, autoAddNewRepositories, repositoriesSync }, defaultDeviceId };
      }
      case 'OrganizationAuthorized':
        return { ...state, status: 'active' };
      case 'OrganizationSettingsUpdated': {
        const { organizationId: _id, ...changes } = event.data;
        return { ...state, settings: { ...state.settings!, ...changes } };
      }
      case 'OrganizationDefaultDeviceChanged':
        return { ...state, defaultDeviceId: event.data.deviceId };
      case 'OrganizationVerified':
      case 'OrganizationVerificationFailed':
      case 'OrganizationAuthorizationRequested':
        return state;
      case 'OrganizationRemoved':
        return { ...state, status: 'removed' };
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'AddOrganization': {
        if (state.status !== 'none') throw new DomainError('CONFLICT', `organization ${command.data.organizationId} already exists`);
        const { token: check, ...data } = command.data;
        const { name, gitlabUrl, login, passwordId } = admissible(data);
        // With SSO nothing is verified yet: the sign-in that authorizes it is checked then.
        const sso = data.authMethod === 'SSO';
        if (!sso && check === null) throw new DomainError('INVALID_INPUT', 'authMethod TOKEN needs its token checked with GitLab');
        const access = sso ? null : verifiedOrRefuse(check!);
        return [
          {
            type: 'OrganizationAdded',
            data: {
              organizationId: data.organizationId,
              provider: 'GITLAB',
              name,
              gitlabUrl,
              authMethod: data.authMethod,
              login,
              passwordId,
              protectGroups: data.protectGroups,
              autoAddNewRepositories: data.autoAddNewRepositories,
              repositoriesSync: normalizedSync(data.repositoriesSync),
              defaultDeviceId: data.defaultDeviceId,
              gitlabGroupId: !sso && check!.ok ? check!.groupId : null,
              access,
            },
          },
        ];
      }
      case 'AuthorizeOrganization': {
        const { organizationId, token } = command.data;
        if (state.status === 'active') throw new DomainError('CONFLICT', `organization ${organizationId} is already authorized`);
        if (state.status !== 'pending') throw new DomainError('NOT_FOUND', `no organization ${organizationId}`);
        // A sign-in GitLab refused, or a user who cannot see the group, leaves it pending, and says why.
        if (!token.ok) return [{ type: 'OrganizationVerificationFailed', data: { organizationId, failure: token.failure, reason: token.reason } }];
        const login = command.data.login?.trim();
        if (!login) throw new DomainError('INVALID_INPUT', 'an authorization needs the login GitLab signed in');
        if (!command.data.passwordId) throw new DomainError('INVALID_INPUT', 'an authorization needs the password entry holding its tokens');
        return [
          {
            type: 'OrganizationAuthorized',
            data: { organizationId, login, passwordId: command.data.passwordId, gitlabGroupId: token.groupId, access: verifiedOrRefuse(token) },
          },
        ];
      }
      case 'RequestAuthorization': {
        const { organizationId } = command.data;
        if (state.status === 'active') throw new DomainError('CONFLICT', `organization ${organizationId} is already authorized`);
        if (state.status !== 'pending') throw new DomainError('NOT_FOUND', `no organization ${organizationId}`);
        return [{ type: 'OrganizationAuthorizationRequested', data: { organizationId } }];
      }
      case 'RecordOrganizationVerification': {
        const { organizationId, token } = command.data;
        authorized(state, organizationId);
        if (!token.ok) return [{ type: 'OrganizationVerificationFailed', data: { organizationId, failure: token.failure, reason: token.reason } }];
        return [{ type: 'OrganizationVerified', data: { organizationId, ...verifiedOrRefuse(token) } }];
      }
      case 'UpdateOrganizationSettings': {
        const { organizationId, ...requested } = command.data;
        const settings = present(state, organizationId).settings!;
        if (requested.repositoriesSync !== undefined) checkSync(requested.repositoriesSync);
        const changes: Partial<OrganizationSettings> = {};
        if (requested.protectGroups !== undefined && requested.protectGroups !== settings.protectGroups) changes.protectGroups = requested.protectGroups;
        if (requested.autoAddNewRepositories !== undefined && requested.autoAddNewRepositories !== settings.autoAddNewRepositories) {
          changes.autoAddNewRepositories = requested.autoAddNewRepositories;
        }
        if (requested.repositoriesSync !== undefined) {
          const sync = normalizedSync(requested.repositoriesSync);
          if (JSON.stringify(sync) !== JSON.stringify(settings.repositoriesSync)) changes.repositoriesSync = sync;
        }
        if (Object.keys(changes).length === 0) return [];
        return [{ type: 'OrganizationSettingsUpdated', data: { organizationId, ...changes } }];
      }
      case 'ChangeDefaultDevice': {
        const { organizationId, deviceId, known } = command.data;
        const current = present(state, organizationId);
        if (!known.deviceRegistered) throw new DomainError('NOT_FOUND', `no device ${deviceId}`, 'deviceId');
        if (current.defaultDeviceId === deviceId) return [];
        return [{ type: 'OrganizationDefaultDeviceChanged', data: { organizationId, deviceId, previousDeviceId: current.defaultDeviceId! } }];
      }
      case 'RemoveOrganization': {
        present(state, command.data.organizationId);
        return [{ type: 'OrganizationRemoved', data: { organizationId: command.data.organizationId } }];
      }
    }
  },
};

type AddOrganizationData = Omit<Extract<OrganizationCommand, { type: 'AddOrganization' }>['data'], 'token'>;

/**
 * Every rule of adding an organization but what GitLab says of its token: checked before
 * GitLab is asked, so that a request that cannot succeed costs no call and leaves no record.
 */
export function admissible(data: AddOrganizationData): { name: string; gitlabUrl: string; login: string | null; passwordId: string | null } {
  const { known, login, passwordId } = data;
  const name = groupPath(data.name);
  const gitlabUrl = gitlabBaseUrl(data.gitlabUrl);
  if (data.authMethod === 'SSO') {
    // Whoever signs in to GitLab becomes the main login: one given here could only disagree.
    if (login !== undefined && login !== null)
      throw new DomainError('INVALID_INPUT', 'authMethod SSO takes no login: GitLab names the user who signs in', 'login');
    if (passwordId !== undefined && passwordId !== null)
      throw new DomainError('INVALID_INPUT', 'authMethod SSO takes no passwordId: Backplane keeps the tokens GitLab gives it', 'passwordId');
    shared(data, name, gitlabUrl);
    return { name, gitlabUrl, login: null, passwordId: null };
  }
  if (!login || login.trim() === '') throw new DomainError('INVALID_INPUT', 'authMethod TOKEN needs a login', 'login');
  checkGitLabUsername(login.trim(), 'login');
  if (!passwordId) throw new DomainError('INVALID_INPUT', 'authMethod TOKEN needs a passwordId', 'passwordId');
  if (!known.passwordStored) throw new DomainError('NOT_FOUND', `no password ${passwordId}`, 'passwordId');
  if (known.passwordHoldsAuthorization)
    throw new DomainError('CONFLICT', `password ${passwordId} holds an SSO organization's authorization: it is no personal access token`, 'passwordId');
  shared(data, name, gitlabUrl);
  return { name, gitlabUrl, login: login.trim(), passwordId };
}

/** The rules both ways of signing in share. */
function shared(data: AddOrganizationData, name: string, gitlabUrl: string): void {
  if (!data.known.deviceRegistered) throw new DomainError('NOT_FOUND', `no device ${data.defaultDeviceId}`, 'defaultDeviceId');
  checkSync(data.repositoriesSync);
  if (data.known.sameGroupOrganizationId !== null) {
    throw new DomainError('CONFLICT', `group ${name} on ${gitlabUrl} is already organization ${data.known.sameGroupOrganizationId}`, 'name');
  }
}

/**
 * What reaching GitLab as the organization's main login needs: one that is authorized. Refuses
 * a pending SSO organization, saying what is missing.
 */
export function mainLogin(organization: { id: string; login: string | null; passwordId: string | null }): { login: string; passwordId: string } {
  if (organization.login === null || organization.passwordId === null) {
    throw new DomainError(
      'PENDING_AUTHORIZATION',
      `organization ${organization.id} is pending authorization: open its authorizationUrl and sign in to GitLab first`,
    );
  }
  return { login: organization.login, passwordId: organization.passwordId };
}

/** Only a pending SSO organization takes a new sign-in. */
export function awaitingAuthorization(organization: { id: string; authMethod: string; passwordId: string | null }): void {
  if (organization.authMethod !== 'SSO') throw new DomainError('INVALID_INPUT', `organization ${organization.id} signs in with a token, not SSO`);
  if (organization.passwordId !== null) throw new DomainError('CONFLICT', `organization ${organization.id} is already authorized`);
}

/** Added and not removed, pending or not: its settings are the caller's to change. */
function present(state: OrganizationState, organizationId: string): OrganizationState {
  if (state.status !== 'active' && state.status !== 'pending') throw new DomainError('NOT_FOUND', `no organization ${organizationId}`);
  return state;
}

/** Added, authorized and not removed. */
function authorized(state: OrganizationState, organizationId: string): OrganizationState {
  if (state.status === 'pending') {
    throw new DomainError(
      'PENDING_AUTHORIZATION',
      `organization ${organizationId} is pending authorization: open its authorizationUrl and sign in to GitLab first`,
    );
  }
  if (state.status !== 'active') throw new DomainError('NOT_FOUND', `no organization ${organizationId}`);
  return state;
}

/**
 * A GitLab group's full path, as GitLab spells it: segments joined by "/", no empty segment, each
 * of letters, digits, "_", "-" and "." not starting with "-", and none of dots alone ("." and ".."
 * name no group; they would climb the path).
 */
export function groupPath(name: string): string {
  const path = name.trim().replace(/^\/+|\/+$/g, '');
  const segment = '(?!\\.+(?:/|$))[A-Za-z0-9_.][A-Za-z0-9_.-]*';
  if (!new RegExp(`^${segment}(?:/${segment})*$`).test(path)) {
    throw new DomainError('INVALID_INPUT', `name must be a GitLab group's full path such as "acme/platform", got "${name}"`, 'name');
  }
  return path;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** https only, except plain http to this machine; no credentials, query or fragment; no trailing slash. */
export function gitlabBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new DomainError('INVALID_INPUT', 'gitlabUrl must be an absolute URL such as https://gitlab.example.com', 'gitlabUrl');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.test(url.hostname))) {
    throw new DomainError('INVALID_INPUT', 'gitlabUrl must use https (plain http is allowed only to a loopback address)', 'gitlabUrl');
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new DomainError('INVALID_INPUT', 'gitlabUrl must not carry credentials, a query or a fragment', 'gitlabUrl');
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

function checkSync(sync: RepositoriesSync): void {
  const hasTimes = 'times' in sync && sync.times !== undefined && sync.times !== null;
  const hasInterval = 'intervalMinutes' in sync && sync.intervalMinutes !== undefined && sync.intervalMinutes !== null;
  if (hasTimes === hasInterval) throw new DomainError('INVALID_INPUT', 'repositoriesSync takes exactly one of times or intervalMinutes', 'repositoriesSync');
  if ('times' in sync && hasTimes) {
    const { times } = sync;
    if (times.length < 1 || times.length > 24)
      throw new DomainError('INVALID_INPUT', 'repositoriesSync.times takes 1 to 24 times of day', 'repositoriesSync.times');
    const bad = times.find((time) => !TIME.test(time));
    if (bad !== undefined)
      throw new DomainError('INVALID_INPUT', `repositoriesSync.times: "${bad}" is not a time of day as HH:MM (UTC)`, 'repositoriesSync.times');
    if (new Set(times).size !== times.length) throw new DomainError('INVALID_INPUT', 'repositoriesSync.times must be distinct', 'repositoriesSync.times');
  } else if ('intervalMinutes' in sync) {
    const minutes = sync.intervalMinutes;
    if (!Number.isInteger(minutes) || minutes < 15 || minutes > 1440) {
      throw new DomainError('INVALID_INPUT', 'repositoriesSync.intervalMinutes must be a whole number from 15 to 1440', 'repositoriesSync.intervalMinutes');
    }
  }
}

function normalizedSync(sync: RepositoriesSync): RepositoriesSync {
  return 'times' in sync && sync.times ? { times: [...sync.times].sort() } : { intervalMinutes: (sync as { intervalMinutes: number }).intervalMinutes };
}

export const organizationStream = (organizationId: string) => `organization-${organizationId}`;

/**
 * Whether the repository list is due for a sync at `now`: never synced, an interval gone by since
 * the last start, or a time of day (UTC) passed since it. However many slots were missed (a
 * process that was down), one sync covers them all.
 */
export function syncDue(sync: { times?: string[] | null; intervalMinutes?: number | null }, lastStartedAt: Date | null, now: Date): boolean {
  if (lastStartedAt === null) return true;
  if (sync.intervalMinutes) return now.getTime() - lastStartedAt.getTime() >= sync.intervalMinutes * 60_000;
  const latestSlot = Math.max(
    ...(sync.times ?? []).map((time) => {
      const [hours, minutes] = time.split(':').map(Number);
      const slot = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hours, minutes);
      return slot <= now.getTime() ? slot : slot - 86_400_000;
    }),
  );
  return lastStartedAt.getTime() < latestSlot;
}
