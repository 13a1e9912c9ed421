/**
 * GitLab as an OAuth 2 provider: the authorization code grant with PKCE, and refresh tokens that
 * are single-use (each refresh issues a new pair). Codes live 10 minutes and serve once; a code
 * refused for a wrong verifier stays usable, as in Doorkeeper. The access tokens issued act as
 * their user on /api/v4 until their lifetime ends; refreshing ends the previous access token
 * only when told to (revokeOnRefresh), as GitLab does once the new one is used.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Answer } from './api';
import type { Model } from './model';

interface Application {
  clientSecret: string;
  redirectUri: string;
}

interface Grant {
  clientId: string;
  redirectUri: string;
  userId: number;
  scopes: string[];
  challenge: string | null;
  challengeMethod: string;
  expiresAtMs: number;
  used: boolean;
}

interface RefreshToken {
  clientId: string;
  userId: number;
  scopes: string[];
  used: boolean;
  /** The access token issued with it. */
  accessTokenId: number;
}

const CODE_LIFETIME_MS = 10 * 60 * 1000;

export class OAuthProvider {
  private readonly applications = new Map<string, Application>();
  private readonly grants = new Map<string, Grant>();
  private readonly refreshTokens = new Map<string, RefreshToken>();
  signedIn: string | null = null;
  tokenLifetimeSeconds = 7200;
  revokeOnRefresh = false;

  constructor(private readonly model: Model) {}

  addApplication(clientId: string, clientSecret: string, redirectUri: string): void {
    this.applications.set(clientId, { clientSecret, redirectUri });
  }

  /** GET /oauth/authorize: the user signed in approves at once, and the browser is sent back with a code. */
  authorize(query: Record<string, string>, now: number): Answer {
    const app = this.applications.get(query.client_id ?? '');
    if (!app || query.redirect_uri !== app.redirectUri) {
      return { status: 400, body: { error: 'invalid_client', error_description: 'Unknown client, or a redirect URI not registered for it.' } };
    }
    if (query.response_type !== 'code') return { status: 400, body: { error: 'unsupported_response_type' } };
    const method = query.code_challenge_method ?? 'plain';
    if (query.code_challenge !== undefined && method !== 'S256' && method !== 'plain') {
      return { status: 400, body: { error: 'invalid_request', error_description: 'Unsupported code challenge method.' } };
    }
    if (this.signedIn === null) return { status: 401, body: '<html><body>You need to sign in or sign up before continuing.</body></html>' };
    const user = this.model.users.get(this.signedIn);
    if (!user) throw new Error(`the user signed in, ${this.signedIn}, does not exist`);
    const code = randomBytes(24).toString('hex');
    this.grants.set(code, {
      clientId: query.client_id,
      redirectUri: app.redirectUri,
      userId: user.id,
      scopes: scopesOf(query.scope),
      challenge: query.code_challenge ?? null,
      challengeMethod: method,
      expiresAtMs: now + CODE_LIFETIME_MS,
      used: false,
    });
    const location = new URL(app.redirectUri);
    location.searchParams.set('code', code);
    if (query.state !== undefined) location.searchParams.set('state', query.state);
    return { status: 302, body: null, headers: { location: location.toString() } };
  }

  /** POST /oauth/token. The client authenticates with client_id/client_secret in the body or with HTTP Basic. */
  token(params: Record<string, string>, authorization: string | undefined, now: number): Answer {
    const client = clientOf(params, authorization);
    const app = this.applications.get(client.id);
    if (!app || app.clientSecret !== client.secret) {
      return { status: 401, body: { error: 'invalid_client', error_description: 'Client authentication failed.' } };
    }
    if (params.grant_type === 'authorization_code') return this.exchangeCode(params, client.id, now);
    if (params.grant_type === 'refresh_token') return this.refresh(params, client.id, now);
    return { status: 400, body: { error: 'unsupported_grant_type', error_description: 'The grant type is not supported.' } };
  }

  private exchangeCode(params: Record<string, string>, clientId: string, now: number): Answer {
    const grant = this.grants.get(params.code ?? '');
    if (!grant || grant.used || grant.clientId !== clientId || now >= grant.expiresAtMs)
      return invalidGrant('The code is invalid, expired, used or issued to another client.');
    if (params.redirect_uri !== grant.redirectUri) return invalidGrant('The redirect URI does not match the one of the authorization request.');
    if (grant.challenge !== null && !verifierMatches(params.code_verifier, grant.challenge, grant.challengeMethod)) {
      return invalidGrant('The code verifier does not match the code challenge.');
    }
    grant.used = true;
    return this.issue(clientId, grant.userId, grant.scopes, now);
  }

  private refresh(params: Record<string, string>, clientId: string, now: number): Answer {
    const refresh = this.refreshTokens.get(params.refresh_token ?? '');
    if (!refresh || refresh.used || refresh.clientId !== clientId) return invalidGrant('The refresh token is invalid, used or issued to another client.');
    refresh.used = true;
    if (this.revokeOnRefresh) {
      for (const token of this.model.tokens.values()) if (token.id === refresh.accessTokenId) token.revoked = true;
    }
    return this.issue(clientId, refresh.userId, refresh.scopes, now);
  }

  private issue(clientId: string, userId: number, scopes: string[], now: number): Answer {
    const access = this.model.addToken({
      value: randomBytes(32).toString('hex'),
      name: `oauth:${clientId}`,
      userId,
      scopes,
      expiresAt: null,
      expiresAtMs: now + this.tokenLifetimeSeconds * 1000,
      kind: 'oauth',
    });
    const refreshToken = randomBytes(32).toString('hex');
    this.refreshTokens.set(refreshToken, { clientId, userId, scopes, used: false, accessTokenId: access.id });
    return {
      status: 200,
      body: {
        access_token: access.value,
        token_type: 'Bearer',
        expires_in: this.tokenLifetimeSeconds,
        refresh_token: refreshToken,
        created_at: Math.floor(now / 1000),
        scope: scopes.join(' '),
      },
      headers: { 'cache-control': 'no-store' },
    };
  }
}

/** Without a scope the application's default applies; here that is api. */
function scopesOf(scope: string | undefined): string[] {
  const scopes = (scope ?? '').split(/[\s+]+/).filter(Boolean);
  return scopes.length > 0 ? scopes : ['api'];
}

function verifierMatches(verifier: string | undefined, challenge: string, method: string): boolean {
  if (!verifier) return false;
  const computed = method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
  return computed === challenge;
}

function clientOf(params: Record<string, string>, authorization: string | undefined): { id: string; secret: string } {
  if (authorization?.startsWith('Basic ')) {
    const pair = Buffer.from(authorization.slice(6), 'base64').toString();
    const colon = pair.indexOf(':');
    if (colon < 0) return { id: '', secret: '' };
    return { id: decodeURIComponent(pair.slice(0, colon)), secret: decodeURIComponent(pair.slice(colon + 1)) };
  }
  return { id: params.client_id ?? '', secret: params.client_secret ?? '' };
}

function invalidGrant(description: string): Answer {
  return { status: 400, body: { error: 'invalid_grant', error_description: description } };
}
