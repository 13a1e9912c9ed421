import { GitLabError, type GitLabGroup, type GitLabUser, type TokenInfo } from '../../src/gitlab/types';
import { missingScopes, verifyToken } from '../../src/gitlab/verify';

const valid: TokenInfo = { active: true, revoked: false, expiresAt: '2999-12-31', scopes: ['read_api', 'read_repository'] };

function client(
  token: TokenInfo | GitLabError,
  user: GitLabUser = { id: 7, username: 'alice' },
  group: GitLabGroup | GitLabError = { id: 9, fullPath: 'acme' },
) {
  return {
    baseUrl: 'https://gitlab.example.com',
    tokenSelf: async () => {
      if (token instanceof GitLabError) throw token;
      return token;
    },
    currentUser: async () => user,
    group: async () => {
      if (group instanceof GitLabError) throw group;
      return group;
    },
  };
}

const unauthorized = (gitlabMessage?: string) =>
  new GitLabError('UNAUTHORIZED', 'GitLab answered GET /api/v4/personal_access_tokens/self with 401', { status: 401, ...(gitlabMessage && { gitlabMessage }) });

describe('verifyToken', () => {
  it('is ok for an active token with the scopes, of the login, that sees the group', async () => {
    await expect(verifyToken(client(valid), { login: 'ALICE', groupPath: 'acme' })).resolves.toEqual({
      ok: true,
      login: 'alice',
      scopes: ['read_api', 'read_repository'],
      expiresAt: '2999-12-31',
      gitlabUserId: 7,
      groupId: 9,
    });
  });

  it('tells a revoked token from an expired one, by what the token says of itself', async () => {
    await expect(verifyToken(client({ ...valid, active: false, revoked: true }), { login: 'alice' })).resolves.toMatchObject({ failure: 'REVOKED' });
    await expect(verifyToken(client({ ...valid, active: false, expiresAt: '2020-01-01' }), { login: 'alice' })).resolves.toMatchObject({
      failure: 'EXPIRED',
      reason: expect.stringContaining('expired on 2020-01-01'),
    });
    await expect(verifyToken(client({ ...valid, expiresAt: '2020-01-01' }), { login: 'alice' })).resolves.toMatchObject({ failure: 'EXPIRED' });
  });

  it('takes a token to be expired on its expiry date, as GitLab does from 00:00 UTC', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    await expect(verifyToken(client({ ...valid, expiresAt: today }), { login: 'alice' })).resolves.toMatchObject({ failure: 'EXPIRED' });
    await expect(verifyToken(client({ ...valid, expiresAt: tomorrow }), { login: 'alice' })).resolves.toMatchObject({ ok: true });
  });

  it('tells them apart by what GitLab says in its 401, and calls any other 401 an invalid token', async () => {
    await expect(verifyToken(client(unauthorized('Token was revoked. You have to re-authorize from the user.')), { login: 'alice' })).resolves.toMatchObject({
      failure: 'REVOKED',
    });
    await expect(verifyToken(client(unauthorized('Token has expired.')), { login: 'alice' })).resolves.toMatchObject({ failure: 'EXPIRED' });
    await expect(verifyToken(client(unauthorized('401 Unauthorized')), { login: 'alice' })).resolves.toMatchObject({
      failure: 'INVALID_TOKEN',
      reason: expect.stringContaining('invalid or revoked'),
    });
  });

  it('calls a GitLab that fails or limits the request unreachable, naming it', async () => {
    const down = new GitLabError('SERVER_ERROR', 'GitLab answered GET /api/v4/personal_access_tokens/self with 503', { status: 503 });
    await expect(verifyToken(client(down), { login: 'alice' })).resolves.toEqual({
      ok: false,
      failure: 'UNREACHABLE',
      reason: 'GitLab at https://gitlab.example.com failed to answer GET /personal_access_tokens/self (HTTP 503): try again later',
    });
    const limited = new GitLabError('RATE_LIMITED', 'GitLab answered GET /api/v4/user with 429', { status: 429, retryAfterMs: 1_000 });
    await expect(verifyToken(client(limited), { login: 'alice' })).resolves.toMatchObject({
      failure: 'UNREACHABLE',
      reason: expect.stringContaining('rate limiting'),
    });
  });

  it('refuses a group that answers 403 as one that does not exist', async () => {
    const forbidden = new GitLabError('FORBIDDEN', 'GitLab answered GET /api/v4/groups/acme with 403', { status: 403 });
    await expect(verifyToken(client(valid, undefined, forbidden), { login: 'alice', groupPath: 'acme' })).resolves.toMatchObject({
      failure: 'GROUP_NOT_FOUND',
    });
  });
});

describe('missingScopes', () => {
  it('wants read_api and read_repository, or api', () => {
    expect(missingScopes(['api'])).toEqual([]);
    expect(missingScopes(['read_api', 'read_repository', 'read_user'])).toEqual([]);
    expect(missingScopes(['read_repository'])).toEqual(['read_api']);
    expect(missingScopes([])).toEqual(['read_api', 'read_repository']);
  });
});
