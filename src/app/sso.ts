// SSO: an organization authorized by someone signing in to GitLab (OAuth 2, authorization code
// with PKCE). The sign-in starts when the organization is added, pending; GitLab sends the
// browser back to the callback, which completes it as whoever started it.
import { randomUUID } from 'node:crypto';
import { DomainError } from '../core/errors';
import { organization, organizationStream } from '../domain/organization';
import type { TokenCheck } from '../domain/verification';
import { authorizationUrl, OAuthGrantError, pkcePair, tokensSecret, type OAuthApplication, type OAuthTokens } from '../gitlab/oauth';
import { passwordNameTaken } from '../queries/catalog';
import { organizationById } from '../queries/organizations';
import type { OrganizationView } from '../queries/views';
import { execute, OAUTH_CALLBACK_PATH, type AppDeps, type Request } from './deps';
import { deletePassword, storePassword } from './passwords';
import { startFirstSync } from './repository-sync';
import { checkUsable } from './verification';
import { echoed } from '../core/echo';

/** How long a sign-in may take, from the authorization URL to GitLab's callback. */
export const AUTHORIZATION_TTL_MS = 15 * 60_000;

/** What the callback page says; the status is its HTTP status. */
export interface CallbackOutcome {
  status: 200 | 400 | 503;
  title: string;
  message: string;
  /** With 503: when the same callback may be opened again (s). */
  retryAfterSeconds?: number;
}

/**
 * The OAuth application Backplane signs in to `gitlabUrl` with, or a refusal. `fromInput`: the
 * request names authMethod and gitlabUrl itself (adding an organization), and the refusal names
 * the field at fault; a later sign-in of an organization names neither.
 */
export function ssoApplication(deps: AppDeps, gitlabUrl: string, fromInput = false): OAuthApplication {
  if (deps.sso.application === null) {
    throw new DomainError(
      'INVALID_INPUT',
      'authMethod SSO needs Backplane registered as an application on GitLab: set BACKPLANE_GITLAB_OAUTH_CLIENT_ID and BACKPLANE_GITLAB_OAUTH_CLIENT_SECRET, or add the organization with authMethod TOKEN',
      fromInput ? 'authMethod' : undefined,
    );
  }
  // Its secret is sent to the organization's GitLab: only to the one it was issued by.
  if (deps.sso.application.gitlabUrl !== gitlabUrl) {
    throw new DomainError(
      'INVALID_INPUT',
      `SSO is set up for the GitLab at ${deps.sso.application.gitlabUrl} (BACKPLANE_GITLAB_OAUTH_URL): add an organization on ${gitlabUrl} with authMethod TOKEN`,
      fromInput ? 'gitlabUrl' : undefined,
    );
  }
  return deps.sso.application;
}

export function redirectUri(deps: AppDeps): string {
  return `${deps.sso.publicUrl}${OAUTH_CALLBACK_PATH}`;
}

/**
 * Starts a sign-in for a pending organization: a state and a PKCE verifier kept outside the log
 * (the verifier encrypted in the vault), and the URL to open on its GitLab.
 */
export async function beginAuthorization(deps: AppDeps, request: Request, pending: OrganizationView): Promise<string> {
  const application = ssoApplication(deps, pending.gitlabUrl);
  const { tenantId, tokenId, name, role } = request.principal;
  // Sign-ins left unfinished are forgotten as new ones begin, and their verifiers destroyed.
  for (const secretId of await deps.authorizations.expire(new Date(Date.now() - AUTHORIZATION_TTL_MS))) await deps.vault.discard(secretId);
  const { verifier, challenge } = pkcePair();
  const verifierSecretId = await deps.vault.put(tenantId, verifier);
  const state = await deps.authorizations.begin({ tenantId, organizationId: pending.id, verifierSecretId, principal: { tokenId, name, role } });
  return authorizationUrl(pending.gitlabUrl, { clientId: application.clientId, redirectUri: redirectUri(deps), state, challenge });
}

/**
 * GitLab's callback. The state is what authenticates it: unknown, expired or used, nothing is
 * written. Otherwise the code is exchanged, the token checked, and the organization authorized
 * (or its failure recorded) as the principal who started the sign-in.
 */
export async function completeAuthorization(
  deps: AppDeps,
  query: { state?: string; code?: string; error?: string; errorDescription?: string },
  now = new Date(),
): Promise<CallbackOutcome> {
  // Before the state is used or the code exchanged: the same callback completes the sign-in once they are current.
  const catchingUp = deps.catchingUp();
  if (catchingUp) {
    const retryAfterSeconds = Math.ceil(catchingUp.retryAfterMs / 1000);
    return {
      status: 503,
      title: 'Try again',
      message: `Backplane is catching up with its log: nothing was done. Reload this page in ${retryAfterSeconds} s to complete the sign-in.`,
      retryAfterSeconds,
    };
  }
  if (!query.state) return refused('The sign-in carries no state: start it again from Backplane.');
  const claimed = await deps.authorizations.claim(query.state, new Date(now.getTime() - AUTHORIZATION_TTL_MS), now);
  if (claimed === null) return refused('This sign-in is unknown, expired or already used: ask Backplane for a new authorization URL.');
  const { tenantId, organizationId, verifierSecretId } = claimed;
  const request: Request = { principal: { ...claimed.principal, tenantId, root: false }, correlationId: randomUUID() };
  let verifier: string;
  try {
    verifier = await deps.vault.reveal(tenantId, verifierSecretId);
  } finally {
    await deps.vault.discard(verifierSecretId);
  }
  const pending = await organizationById(deps.db, tenantId, organizationId);
  if (pending === null) return refused(`Organization ${organizationId} was removed: there is nothing to authorize.`);
  if (pending.passwordId !== null) return refused(`Organization ${pending.name} is already authorized.`);

  let tokens: OAuthTokens | null = null;
  let check: TokenCheck & { login?: string };
  if (!query.code) {
    // The browser's query string, which anyone can write: short, and without control characters.
    const said = echoed([query.error, query.errorDescription].filter(Boolean).join(': '), 160);
    check = {
      ok: false,
      failure: 'ACCESS_DENIED',
      reason: `GitLab sent no authorization code${said ? ` (${said})` : ''}: sign in again and approve Backplane`,
    };
  } else {
    try {
      tokens = await deps.gitlab.exchangeCode({
        gitlabUrl: pending.gitlabUrl,
        app: ssoApplication(deps, pending.gitlabUrl),
        code: query.code,
        redirectUri: redirectUri(deps),
        verifier,
      });
      check = await checkUsable(
        deps,
        { tenantId, deviceId: pending.defaultDeviceId, gitlabUrl: pending.gitlabUrl, groupPath: pending.name, login: null },
        { token: tokens.accessToken, kind: 'oauth', scopes: tokens.scopes },
      );
    } catch (error) {
      // This server's settings no longer cover the organization's GitLab: nothing was sent there.
      if (error instanceof DomainError) return refused(`Organization ${pending.name} is not authorized: ${error.message}`);
      if (!(error instanceof OAuthGrantError)) throw error;
      check = { ok: false, failure: error.error === 'UNREACHABLE' ? 'UNREACHABLE' : 'INVALID_GRANT', reason: `${error.message}: start the sign-in again` };
    }
  }
  const stream = organizationStream(organizationId);
  if (!check.ok || tokens === null) {
    try {
      await execute(deps, request, organization, stream, {
        type: 'AuthorizeOrganization',
        data: { organizationId, login: null, passwordId: null, token: check },
      });
    } catch (error) {
      // Removed or authorized since it was looked up: the refusal is the answer.
      if (!(error instanceof DomainError)) throw error;
    }
    return refused(`Organization ${pending.name} is not authorized: ${check.ok ? 'GitLab gave no token' : check.reason}`);
  }

  const password = await storePassword(deps, request, {
    name: await entryName(deps, tenantId, pending),
    secret: tokensSecret(tokens),
    description: `GitLab's authorization of organization ${pending.name} (SSO); Backplane renews it`,
  });
  try {
    await execute(deps, request, organization, stream, {
      type: 'AuthorizeOrganization',
      data: { organizationId, login: check.login ?? null, passwordId: password.id, token: check },
    });
  } catch (error) {
    // Another sign-in of the same organization got there first: this entry is no one's.
    if (!(error instanceof DomainError)) throw error;
    await deletePassword(deps, request, password.id).catch(() => undefined);
    return refused(`Organization ${pending.name} is not authorized: ${error.message}`);
  }
  const authorized = (await organizationById(deps.db, tenantId, organizationId))!;
  startFirstSync(deps, request, authorized);
  return {
    status: 200,
    title: 'Organization authorized',
    message: `Organization ${pending.name} on ${pending.gitlabUrl} is authorized as GitLab user ${authorized.login}. Its repositories are being listed; you can close this page.`,
  };
}

/** "SSO <group> on <host>", unless the tenant already has an entry so named. */
async function entryName(deps: AppDeps, tenantId: string, pending: OrganizationView): Promise<string> {
  const name = `SSO ${pending.name} on ${new URL(pending.gitlabUrl).host}`;
  return (await passwordNameTaken(deps.db, tenantId, name)) ? `${name} (${pending.id.slice(0, 8)})` : name;
}

function refused(message: string): CallbackOutcome {
  return { status: 400, title: 'Not authorized', message };
}
