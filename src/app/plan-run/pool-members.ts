import { DomainError } from '../../core/errors';
import { credential, credentialStream, type CredentialCommand } from '../../domain/credential';
import type { CredentialPool } from '../../gitlab/credential-pool';
import { write, type AppDeps, type Request } from '../deps';
import type { GitLabSession } from '../gitlab-port';
import { credentialsToRead, MAIN, membershipChanges } from './membership';
import type { MembershipLog } from './membership-log';
import type { RunSessions } from './sessions';

/**
 * Keeps a run's pool to the members the membership rule lets in: the main login and the plan's
 * effective credentials, and nothing else. A check takes out whoever is no longer effective and
 * adds whoever became effective, as the log says at the time the check reads it.
 */
export class PoolMembers {
  /** Credentials GitLab refused (401) during the run, and ones whose secret could not be read: never taken back. */
  readonly #unusable = new Set<string>();

  constructor(
    private readonly deps: AppDeps,
    private readonly request: Request,
    private readonly taskId: string,
    private readonly pool: CredentialPool<GitLabSession>,
    private readonly log: MembershipLog,
    private readonly sessions: RunSessions,
  ) {}

  async check(): Promise<void> {
    const plan = await this.log.readPlan();
    const members = this.sessions.keys().filter((key) => this.pool.has(key));
    await this.log.readCredentials(credentialsToRead(plan, members, this.#unusable));
    const { leave, join } = membershipChanges(members, { plan, credentials: this.log.credentialStates(), unusable: this.#unusable });
    for (const key of leave) this.pool.remove(key);
    for (const id of join) {
      const known = this.log.credential(id)!;
      try {
        this.pool.add({ key: id, client: (await this.sessions.open(id, known.passwordId, known.login)).session });
      } catch {
        // Its password entry is gone: the credential cannot be used, and is not tried again.
        this.#unusable.add(id);
      }
    }
  }

  /** GitLab answered 401 to a member: it leaves the pool for good, and a credential's refusal is recorded. */
  async refused(key: string): Promise<void> {
    if (this.#unusable.has(key)) return;
    this.#unusable.add(key);
    this.pool.remove(key);
    if (key === MAIN) return;
    const command: CredentialCommand = {
      type: 'RecordCredentialVerification',
      data: { credentialId: key, token: { ok: false, failure: 'REVOKED', reason: `GitLab answered 401 during task ${this.taskId}` } },
    };
    try {
      await write(this.deps, this.request, credential, credentialStream(key), command);
    } catch (error) {
      // Removed meanwhile: nothing left to mark.
      if (!(error instanceof DomainError)) throw error;
    }
  }
}
