import type { CredentialUse } from '../../domain/repository';
import type { RateLimitState } from '../../gitlab/types';
import type { OrganizationView } from '../../queries/views';
import type { AppDeps } from '../deps';
import type { GitLabSession } from '../gitlab-port';
import { usableToken } from '../verification';
import { MAIN } from './membership';

export interface SessionHooks {
  observe(key: string, rateLimit: RateLimitState): void;
  /** What stops the run: a stopping service does not wait for GitLab's Retry-After or backoff. */
  signal(): AbortSignal;
  /** Before a request is sent again; what it throws ends the request. */
  beforeRetry(key: string): Promise<void>;
}

/**
 * The GitLab sessions of a run's members, and who each member is. Every session a member had
 * is kept: its HTTP requests, retries and refusals included, are what the member made.
 */
export class RunSessions {
  readonly #logins: Map<string, string>;
  readonly #sessions = new Map<string, GitLabSession[]>();

  constructor(
    private readonly deps: AppDeps,
    private readonly tenantId: string,
    private readonly organization: OrganizationView,
    private readonly hooks: SessionHooks,
  ) {
    this.#logins = new Map([[MAIN, organization.login ?? '']]);
  }

  /** A new session with the token of the member's password entry; a credential's login is named first. */
  async open(key: string, passwordId: string, login?: string): Promise<{ session: GitLabSession; token: string }> {
    if (login !== undefined) this.#logins.set(key, login);
    // An SSO organization's main login holds an OAuth authorization, refreshed when about to expire.
    const { gitlabUrl, authMethod } = this.organization;
    const { token, kind } = await usableToken(this.deps, { tenantId: this.tenantId, gitlabUrl, passwordId, authMethod: key === MAIN ? authMethod : undefined });
    const session = this.deps.gitlab.session(
      { gitlabUrl, token, kind, login: this.#logins.get(key) || null },
      {
        rateLimit: 'fail',
        onResponse: (info) => this.hooks.observe(key, info.rateLimit),
        signal: this.hooks.signal(),
        beforeRetry: () => this.hooks.beforeRetry(key),
      },
    );
    this.#sessions.set(key, [...(this.#sessions.get(key) ?? []), session]);
    return { session, token };
  }

  /** Every member a session was opened for (or tried), the main login first. */
  keys(): string[] {
    return [...this.#logins.keys()];
  }

  who(key: string): Omit<CredentialUse, 'requests'> {
    return { credentialId: key === MAIN ? null : key, login: this.#logins.get(key) ?? '' };
  }

  /** The members that made requests, with how many. */
  uses(counts: ReadonlyMap<string, number>): CredentialUse[] {
    return [...counts].filter(([, requests]) => requests > 0).map(([key, requests]) => ({ ...this.who(key), requests }));
  }

  /** The HTTP requests each member's sessions made: what GitLab saw of it, attempt by attempt. */
  usage(): CredentialUse[] {
    return this.uses(new Map([...this.#sessions].map(([key, sessions]) => [key, sessions.reduce((sum, session) => sum + session.requests, 0)])));
  }
}
