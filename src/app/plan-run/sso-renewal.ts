import type { CredentialPool } from '../../gitlab/credential-pool';
import type { OrganizationView } from '../../queries/views';
import type { GitLabSession } from '../gitlab-port';
import { MAIN } from './membership';
import type { RunSessions } from './sessions';

/**
 * The main login's session as the run last took it. An SSO authorization is refreshed by
 * whichever process needs it first (a sync, a verification, another run), and GitLab then ends
 * the access token this run holds; or it simply expires. A 401 to the main login is first
 * answered by taking the entry's token again (refreshed if due): only when that is the token
 * GitLab refused is the main login refused.
 */
export class MainLogin {
  #session: GitLabSession | null = null;
  #token: string | null = null;
  #renewing: Promise<boolean> | null = null;

  constructor(
    private readonly organization: OrganizationView,
    private readonly sessions: RunSessions,
    private readonly pool: CredentialPool<GitLabSession>,
  ) {}

  /** Puts the main login in the pool with the entry's token. */
  async join(): Promise<void> {
    this.pool.add({ key: MAIN, client: await this.#take() });
  }

  /** Whether a request was sent with the session the run holds now, not one it has replaced. */
  holds(session: GitLabSession | null): boolean {
    return session === this.#session;
  }

  /** After a 401: whether the pool now holds the main login with another token. One renewal at a time. */
  renew(): Promise<boolean> {
    if (this.organization.authMethod !== 'SSO' || this.organization.passwordId === null) return Promise.resolve(false);
    this.#renewing ??= (async () => {
      const before = this.#token;
      const session = await this.#take();
      if (this.#token === before) return false;
      this.pool.add({ key: MAIN, client: session });
      return true;
    })()
      .catch(() => false)
      .finally(() => (this.#renewing = null));
    return this.#renewing;
  }

  async #take(): Promise<GitLabSession> {
    const { passwordId } = this.organization;
    if (passwordId === null) throw new Error('the organization has no token to reach GitLab with');
    const { session, token } = await this.sessions.open(MAIN, passwordId);
    this.#session = session;
    this.#token = token;
    return session;
  }
}
