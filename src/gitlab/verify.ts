// Whether a token can do what Backplane will ask of it, said in words a person can act on.
import { echoed } from '../core/echo';
import type { GitLabClient } from './client';
import { GitLabError, type GitLabGroup, type GitLabUser, type TokenInfo } from './types';

export type TokenVerificationFailure = 'INVALID_TOKEN' | 'REVOKED' | 'EXPIRED' | 'MISSING_SCOPES' | 'LOGIN_MISMATCH' | 'GROUP_NOT_FOUND' | 'UNREACHABLE';

export type TokenVerification =
  | { ok: true; login: string; scopes: string[]; expiresAt: string | null; gitlabUserId: number; groupId: number | null }
  | { ok: false; failure: TokenVerificationFailure; reason: string };

/** Reading the API and cloning over HTTPS; `api` grants both. */
export const REQUIRED_SCOPES = ['read_api', 'read_repository'] as const;

type Client = Pick<GitLabClient, 'baseUrl' | 'tokenSelf' | 'currentUser' | 'group'>;
type Failed = Extract<TokenVerification, { ok: false }>;

/**
 * Verifies a personal (or group/project) access token: it is active, has the scopes a backup
 * needs, belongs to `login`, and sees `groupPath` when one is given.
 */
export async function verifyToken(client: Client, expect: { login: string; groupPath?: string }): Promise<TokenVerification> {
  let token: TokenInfo;
  try {
    token = await client.tokenSelf();
  } catch (error) {
    return failed(client, error, 'GET /personal_access_tokens/self');
  }
  if (token.revoked) return fail('REVOKED', 'the token was revoked: create a new one with read_api and read_repository');
  if (!token.active || isPast(token.expiresAt)) {
    return fail('EXPIRED', `the token expired${token.expiresAt ? ` on ${token.expiresAt}` : ''}: create a new one with read_api and read_repository`);
  }
  const missing = missingScopes(token.scopes);
  if (missing.length > 0) {
    return fail('MISSING_SCOPES', `the token lacks the scopes ${missing.join(', ')}: create a token with read_api and read_repository`);
  }

  const user = await whoIs(client);
  if ('failure' in user) return user;
  if (user.username.toLowerCase() !== expect.login.toLowerCase()) {
    return fail(
      'LOGIN_MISMATCH',
      `the token belongs to GitLab user ${echoed(user.username)}, not ${expect.login}: use a token of ${expect.login}, or change the login`,
    );
  }

  const group = await visibleGroup(client, expect.groupPath, user.username);
  if (group !== null && 'failure' in group) return group;
  return { ok: true, login: user.username, scopes: token.scopes, expiresAt: token.expiresAt, gitlabUserId: user.id, groupId: group?.id ?? null };
}

/**
 * Verifies an OAuth access token, which has no /personal_access_tokens/self: it answers for a
 * user, and that user sees `groupPath`. The login is whoever GitLab says the user is; the scopes
 * are those the authorization granted, as the caller knows them.
 */
export async function verifyOAuthToken(client: Client, expect: { groupPath?: string; scopes?: string[] }): Promise<TokenVerification> {
  const user = await whoIs(client);
  if ('failure' in user) return user;
  const group = await visibleGroup(client, expect.groupPath, user.username);
  if (group !== null && 'failure' in group) return group;
  return { ok: true, login: user.username, scopes: expect.scopes ?? [], expiresAt: null, gitlabUserId: user.id, groupId: group?.id ?? null };
}

/** The scopes of REQUIRED_SCOPES that `scopes` does not grant. */
export function missingScopes(scopes: string[]): string[] {
  if (scopes.includes('api')) return [];
  return REQUIRED_SCOPES.filter((scope) => !scopes.includes(scope));
}

async function whoIs(client: Client): Promise<GitLabUser | Failed> {
  try {
    return await client.currentUser();
  } catch (error) {
    return failed(client, error, 'GET /user');
  }
}

async function visibleGroup(client: Client, groupPath: string | undefined, username: string): Promise<GitLabGroup | Failed | null> {
  if (groupPath === undefined) return null;
  try {
    return await client.group(groupPath);
  } catch (error) {
    if (error instanceof GitLabError && (error.failure === 'NOT_FOUND' || error.failure === 'FORBIDDEN')) {
      return fail(
        'GROUP_NOT_FOUND',
        `GitLab at ${client.baseUrl} has no group ${groupPath} that ${username} can see: check the path, or add ${username} to the group`,
      );
    }
    return failed(client, error, `GET /groups/${groupPath}`);
  }
}

function failed(client: Client, error: unknown, what: string): Failed {
  if (!(error instanceof GitLabError)) {
    return fail('UNREACHABLE', `GitLab at ${client.baseUrl} could not be asked ${what}: ${error instanceof Error ? error.name : 'unknown error'}`);
  }
  switch (error.failure) {
    case 'UNAUTHORIZED':
      // GitLab says why in its 401 ("Token was revoked…", "Token has expired."), when it says.
      if (/revoked/i.test(error.details.gitlabMessage ?? ''))
        return fail('REVOKED', `GitLab at ${client.baseUrl} says the token was revoked: create a new one with read_api and read_repository`);
      if (/expired/i.test(error.details.gitlabMessage ?? ''))
        return fail('EXPIRED', `GitLab at ${client.baseUrl} says the token expired: create a new one with read_api and read_repository`);
      return fail(
        'INVALID_TOKEN',
        `GitLab at ${client.baseUrl} refused the token: it is invalid or revoked, or it expired; create a new one with read_api and read_repository`,
      );
    case 'FORBIDDEN':
      return fail('MISSING_SCOPES', `GitLab at ${client.baseUrl} refused ${what} to this token: create a token with read_api and read_repository`);
    case 'RATE_LIMITED':
      return fail('UNREACHABLE', `GitLab at ${client.baseUrl} is rate limiting this token: try again in a minute`);
    case 'UNREACHABLE':
    case 'TIMEOUT':
      // Our own words of the network's failure ("connect ECONNREFUSED …"), not a server's.
      return fail('UNREACHABLE', `GitLab at ${client.baseUrl} did not answer: ${echoed(error.message, 200)}`);
    case 'SERVER_ERROR':
      return fail('UNREACHABLE', `GitLab at ${client.baseUrl} failed to answer ${what}${statusOf(error)}: try again later`);
    default:
      // Whatever such a server said stays out: it may be a page of some other service, kept for ever in the history.
      return fail('UNREACHABLE', `${client.baseUrl} did not answer ${what} as GitLab does${statusOf(error)}: check the GitLab address`);
  }
}

function statusOf(error: GitLabError): string {
  return error.details.status === undefined ? '' : ` (HTTP ${error.details.status})`;
}

/** A reason is kept in the history for ever: a short sentence, whatever went into it. */
function fail(failure: TokenVerificationFailure, reason: string): Failed {
  return { ok: false, failure, reason: echoed(reason, 300) };
}

/**
 * GitLab's `active` is the authority; this only catches an expiry date (YYYY-MM-DD, UTC) already
 * behind us that an answer still called active.
 */
function isPast(expiresAt: string | null, now = new Date()): boolean {
  // GitLab ends a token at 00:00 UTC of its expiry date: on that day it is already expired.
  return expiresAt !== null && expiresAt <= now.toISOString().slice(0, 10);
}
