// GitLab as an OAuth 2 provider: the authorization-code grant with PKCE (RFC 7636), and the
// refresh of its tokens. GitLab's refresh tokens serve once: every refresh returns a new pair.
import { createHash, randomBytes } from 'node:crypto';
import { echoed } from '../core/echo';

/** What the organizations authorized by SSO may do: read the API and clone over HTTPS. */
export const OAUTH_SCOPES = ['read_api', 'read_repository'] as const;

/** Backplane's application on GitLab (Admin area or a group's Applications). */
export interface OAuthApplication {
  clientId: string;
  clientSecret: string;
  /** The GitLab the application is registered on: its secret goes there and nowhere else. */
  gitlabUrl: string;
}

/** What GitLab's token endpoint gives, as kept in the password manager. */
export interface OAuthTokens {
  accessToken: string;
  refreshToken: string;
  /** ISO time the access token stops working; null when GitLab gave no lifetime. */
  expiresAt: string | null;
  scopes: string[];
  /** How many times Backplane refreshed the authorization: last in the stored secret, so that its fingerprint changes with every pair and shows no token. */
  renewals: number;
}

/** GitLab refused a grant, or did not answer; the message is GitLab's words and never a token. */
export class OAuthGrantError extends Error {
  constructor(
    message: string,
    /** GitLab's error code (invalid_grant, invalid_client...), or UNREACHABLE. */
    readonly error: string,
  ) {
    super(message);
    this.name = 'OAuthGrantError';
  }
}

/** A fresh PKCE pair: the verifier stays with Backplane, the challenge goes to the browser. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** Where the browser goes to sign in to GitLab and approve Backplane. */
export function authorizationUrl(gitlabUrl: string, params: { clientId: string; redirectUri: string; state: string; challenge: string }): string {
  const url = new URL(`${gitlabUrl}/oauth/authorize`);
  url.searchParams.set('client_id', params.clientId);
  url.searchParams.set('redirect_uri', params.redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('state', params.state);
  url.searchParams.set('scope', OAUTH_SCOPES.join(' '));
  url.searchParams.set('code_challenge', params.challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  return url.toString();
}

export function exchangeCode(
  gitlabUrl: string,
  app: OAuthApplication,
  grant: { code: string; redirectUri: string; verifier: string },
  options: { timeoutMs: number },
): Promise<OAuthTokens> {
  return tokenRequest(
    gitlabUrl,
    app,
    { grant_type: 'authorization_code', code: grant.code, redirect_uri: grant.redirectUri, code_verifier: grant.verifier },
    options,
  );
}

export function refreshTokens(gitlabUrl: string, app: OAuthApplication, refreshToken: string, options: { timeoutMs: number }): Promise<OAuthTokens> {
  return tokenRequest(gitlabUrl, app, { grant_type: 'refresh_token', refresh_token: refreshToken }, options);
}

async function tokenRequest(gitlabUrl: string, app: OAuthApplication, params: Record<string, string>, options: { timeoutMs: number }): Promise<OAuthTokens> {
  const body = new URLSearchParams({ ...params, client_id: app.clientId, client_secret: app.clientSecret });
  let response: Response;
  try {
    response = await fetch(`${gitlabUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body,
      // The client secret travels in the body: a redirect must not carry it to another host.
      redirect: 'error',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    throw new OAuthGrantError(
      `GitLab at ${gitlabUrl} could not be asked POST /oauth/token: ${error instanceof Error ? error.name : 'unknown error'}`,
      'UNREACHABLE',
    );
  }
  const answer = (await response.json().catch(() => null)) as Record<string, unknown> | null;
  if (!response.ok || answer === null || typeof answer.access_token !== 'string' || typeof answer.refresh_token !== 'string') {
    // What the server says goes into the history for ever: short, and without control characters.
    const error = typeof answer?.error === 'string' ? echoed(answer.error, 40) : `HTTP ${response.status}`;
    const description = typeof answer?.error_description === 'string' ? `: ${echoed(answer.error_description, 160)}` : '';
    throw new OAuthGrantError(
      `GitLab at ${gitlabUrl} refused the ${params.grant_type.replace('_', ' ')} (${error})${description}`,
      response.status >= 500 ? 'UNREACHABLE' : error,
    );
  }
  const createdAt = typeof answer.created_at === 'number' ? answer.created_at * 1000 : Date.now();
  return {
    accessToken: answer.access_token,
    refreshToken: answer.refresh_token,
    expiresAt: typeof answer.expires_in === 'number' ? new Date(createdAt + answer.expires_in * 1000).toISOString() : null,
    scopes: typeof answer.scope === 'string' ? answer.scope.split(/\s+/).filter(Boolean) : [...OAUTH_SCOPES],
    renewals: 0,
  };
}

/** The password entry of an SSO organization holds its tokens as JSON: events see only its id and fingerprint. */
export function tokensSecret(tokens: OAuthTokens): string {
  return JSON.stringify({
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    expiresAt: tokens.expiresAt,
    scopes: tokens.scopes,
    renewals: tokens.renewals,
  });
}

/** Null when the secret is not what tokensSecret wrote (an entry changed by hand). */
export function parseTokensSecret(secret: string): OAuthTokens | null {
  let value: unknown;
  try {
    value = JSON.parse(secret);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { accessToken, refreshToken, expiresAt, scopes, renewals } = value as Record<string, unknown>;
  if (typeof accessToken !== 'string' || typeof refreshToken !== 'string') return null;
  return {
    accessToken,
    refreshToken,
    expiresAt: typeof expiresAt === 'string' ? expiresAt : null,
    scopes: Array.isArray(scopes) ? scopes.filter((scope): scope is string => typeof scope === 'string') : [...OAUTH_SCOPES],
    renewals: typeof renewals === 'number' ? renewals : 0,
  };
}
