import { randomUUID } from 'node:crypto';
import { ConcurrencyError, DomainError } from '../core/errors';
import { verification, verificationStream, type TokenCheck, type VerificationEvent } from '../domain/verification';
import { OAuthGrantError, parseTokensSecret, tokensSecret, type OAuthTokens } from '../gitlab/oauth';
import { asSent, sendableToken } from '../gitlab/requester';
import { deviceById, passwordSecretId } from '../queries/catalog';
import { execute, type AppDeps, type Request } from './deps';
import type { GitLabSession, SessionOptions, TokenKind } from './gitlab-port';
import { changePassword } from './passwords';
import { systemPrincipal } from './principal';

/** Where a token is checked or used: an organization's GitLab and group, through its default device. */
export interface TokenTarget {
  tenantId: string;
  deviceId: string;
  gitlabUrl: string;
  groupPath: string;
  /** Null for an SSO organization's token: GitLab says whose it is. */
  login: string | null;
  passwordId: string;
  /** The organization's, when the entry is its main login's: SSO entries hold OAuth tokens. Default TOKEN. */
  authMethod?: string;
}

/** A token as GitLab takes it, and what it may do when the caller knows (OAuth). */
export interface UsableToken {
  token: string;
  kind: TokenKind;
  scopes?: string[];
}

/** An access token this close to its end is refreshed before use: a call or a sync may take minutes. */
const REFRESH_AHEAD_MS = 5 * 60_000;

/** The secret of a password entry, for one call to GitLab. */
export async function revealPassword(deps: AppDeps, tenantId: string, passwordId: string): Promise<string> {
  const secretId = await passwordSecretId(deps.db, tenantId, passwordId);
  if (secretId === null) throw new DomainError('NOT_FOUND', `no password ${passwordId}`);
  return deps.vault.reveal(tenantId, secretId);
}

/**
 * Asks GitLab about the token through the organization's default device. The server itself is
 * the built-in device "local"; another device would have to do it, and none runs work yet.
 */
export async function checkToken(deps: AppDeps, target: TokenTarget): Promise<TokenCheck & { login?: string }> {
  let token: UsableToken;
  try {
    token = await usableToken(deps, target);
  } catch (error) {
    if (error instanceof OAuthGrantError) return refreshRefused(error);
    throw error;
  }
  return checkUsable(deps, target, token);
}

/** Asks GitLab about a token in hand (one not yet in the password manager), through the default device. */
export async function checkUsable(
  deps: AppDeps,
  target: Omit<TokenTarget, 'passwordId' | 'authMethod'>,
  token: UsableToken,
): Promise<TokenCheck & { login?: string }> {
  // Refused before GitLab is asked, and recorded as no attempt: the secret is no token at all.
  if (!sendableToken(token.token)) {
    throw new DomainError('INVALID_INPUT', "the password's secret is not a GitLab token: a token is printable ASCII, without spaces");
  }
  const device = await deviceById(deps.db, target.tenantId, target.deviceId);
  if (device === null) throw new DomainError('NOT_FOUND', `no device ${target.deviceId}`);
  if (!device.builtIn) {
    return {
      ok: false,
      failure: 'DEVICE_UNAVAILABLE',
      reason: `device ${device.name} is not connected: make the built-in device local the default device to reach GitLab from the server`,
    };
  }
  return deps.gitlab.checkToken({
    gitlabUrl: target.gitlabUrl,
    token: token.token,
    kind: token.kind,
    login: target.login,
    groupPath: target.groupPath,
    scopes: token.scopes,
  });
}

/** A session with GitLab as the target's login, its token read from the password manager (refreshed first when SSO's is about to expire). */
export async function sessionFor(
  deps: AppDeps,
  target: Omit<TokenTarget, 'login' | 'groupPath' | 'deviceId'> & { login?: string | null },
  options?: SessionOptions,
): Promise<GitLabSession> {
  const { token, kind } = await usableToken(deps, target);
  return deps.gitlab.session({ gitlabUrl: target.gitlabUrl, token, kind, login: target.login }, options);
}

/**
 * The token a password entry gives: its secret as it is, or for an SSO organization the access
 * token of the authorization it holds, refreshed first when it expires within REFRESH_AHEAD_MS.
 * Throws OAuthGrantError when GitLab refuses the refresh.
 */
export async function usableToken(deps: AppDeps, target: Pick<TokenTarget, 'tenantId' | 'gitlabUrl' | 'passwordId' | 'authMethod'>): Promise<UsableToken> {
  const secret = await revealPassword(deps, target.tenantId, target.passwordId);
  // A token pasted with a new line or spaces around it: judged and sent as fetch sends it, without them.
  if (target.authMethod !== 'SSO') return { token: asSent(secret), kind: 'personal' };
  let tokens = storedTokens(secret, target.passwordId);
  if (!expiresSoon(tokens)) return { token: tokens.accessToken, kind: 'oauth', scopes: tokens.scopes };
  // Refresh tokens serve once: one process refreshes, and whoever waited takes the pair it stored.
  tokens = await deps.db.withLock(
    `oauth-refresh:${target.passwordId}`,
    async () => {
      const current = storedTokens(await revealPassword(deps, target.tenantId, target.passwordId), target.passwordId);
      if (!expiresSoon(current)) return current;
      const application = deps.sso.application;
      if (application === null)
        throw new OAuthGrantError(
          'SSO is not configured on this server: set BACKPLANE_GITLAB_OAUTH_CLIENT_ID and BACKPLANE_GITLAB_OAUTH_CLIENT_SECRET',
          'NOT_CONFIGURED',
        );
      if (application.gitlabUrl !== target.gitlabUrl) {
        throw new OAuthGrantError(
          `SSO is set up for the GitLab at ${application.gitlabUrl}, not ${target.gitlabUrl} (BACKPLANE_GITLAB_OAUTH_URL)`,
          'NOT_CONFIGURED',
        );
      }
      const fresh = {
        ...(await deps.gitlab.refreshTokens({ gitlabUrl: target.gitlabUrl, app: application, refreshToken: current.refreshToken })),
        renewals: current.renewals + 1,
      };
      // Backplane renews what it was given; the history says so, and shows the new fingerprint.
      await keepRefreshed(deps, target.tenantId, target.passwordId, tokensSecret(fresh));
      return fresh;
    },
    { timeoutMs: 30_000 },
  );
  return { token: tokens.accessToken, kind: 'oauth', scopes: tokens.scopes };
}

/**
 * GitLab has ended the old pair by now: the new one is the only one, so a write that loses a
 * race with someone editing the entry (its description, say) is made again, not given up.
 */
async function keepRefreshed(deps: AppDeps, tenantId: string, passwordId: string, secret: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await changePassword(deps, { principal: systemPrincipal(tenantId), correlationId: randomUUID() }, passwordId, { secret });
      return;
    } catch (error) {
      if (!(error instanceof ConcurrencyError) || attempt >= 5) throw error;
    }
  }
}

function storedTokens(secret: string, passwordId: string): OAuthTokens {
  const tokens = parseTokensSecret(secret);
  if (tokens === null)
    throw new OAuthGrantError(
      `password ${passwordId} holds no GitLab authorization (it was changed by hand?): authorize the organization again`,
      'invalid_secret',
    );
  return tokens;
}

function expiresSoon(tokens: OAuthTokens, now = Date.now()): boolean {
  return tokens.expiresAt !== null && Date.parse(tokens.expiresAt) - now < REFRESH_AHEAD_MS;
}

/** A refresh GitLab refused is the check's outcome: the organization says why. */
function refreshRefused(error: OAuthGrantError): Extract<TokenCheck, { ok: false }> {
  if (error.error === 'UNREACHABLE') return { ok: false, failure: 'UNREACHABLE', reason: error.message };
  // This server's settings, not the authorization, are what is wrong.
  if (error.error === 'NOT_CONFIGURED') return { ok: false, failure: 'SSO_NOT_CONFIGURED', reason: error.message };
  return { ok: false, failure: 'REVOKED', reason: `${error.message}: the authorization was revoked or expired; add the organization again with SSO` };
}

/**
 * The check of a token about to be recorded (a new organization's or credential's): GitLab's
 * refusal is recorded as a failed attempt for `about` and answered GITLAB_AUTH_FAILED.
 */
export async function verifiedToken(
  deps: AppDeps,
  request: Request,
  target: TokenTarget & { login: string },
  about: Pick<VerificationEvent['data'], 'subject' | 'organizationId'>,
): Promise<Extract<TokenCheck, { ok: true }>> {
  const check = await checkToken(deps, target);
  if (!check.ok) return refuseUnverified(deps, request, check, { ...about, gitlabUrl: target.gitlabUrl, group: target.groupPath, login: target.login });
  return check;
}

/**
 * A verification that failed creates nothing, yet the attempt (who, what, GitLab's answer) is
 * recorded; then the caller hears GITLAB_AUTH_FAILED with the reason.
 */
export async function refuseUnverified(
  deps: AppDeps,
  request: Request,
  check: Extract<TokenCheck, { ok: false }>,
  attempt: Omit<VerificationEvent['data'], 'attemptId' | 'failure' | 'reason'>,
): Promise<never> {
  const attemptId = randomUUID();
  await execute(deps, request, verification, verificationStream(attemptId), {
    type: 'RecordFailedVerification',
    data: { attemptId, ...attempt, failure: check.failure, reason: check.reason },
  });
  throw new DomainError('GITLAB_AUTH_FAILED', check.reason);
}
