import { credential, credentialStream, type CredentialEvent, type CredentialState } from '../../domain/credential';
import { plan, planStream, type PlanEvent, type PlanState } from '../../domain/plan';
import type { EventStore } from '../../eventstore/types';

/** A credential as a run's checks know it. */
export interface KnownCredential {
  /** The next revision of its stream to read. */
  next: bigint;
  state: CredentialState;
  login: string;
  passwordId: string;
}

/**
 * The plan and credential state a run checks before each request, read from the log itself (a
 * read model could lag), each stream on from the revision the last check read.
 */
export class MembershipLog {
  #plan: PlanState = plan.initialState();
  #planNext = 0n;
  readonly #credentials = new Map<string, KnownCredential>();

  constructor(
    private readonly store: EventStore,
    private readonly tenantId: string,
    private readonly planId: string,
  ) {}

  async readPlan(): Promise<PlanState> {
    for (const event of await this.store.readStream(planStream(this.planId), { fromRevision: this.#planNext })) {
      this.#plan = plan.evolve(this.#plan, { type: event.type, data: event.data } as PlanEvent);
      this.#planNext = event.revision + 1n;
    }
    return this.#plan;
  }

  /** Reads what was appended to each credential's stream since the last check. */
  async readCredentials(ids: readonly string[]): Promise<void> {
    await Promise.all(ids.map((id) => this.#readCredential(id)));
  }

  credential(id: string): KnownCredential | undefined {
    return this.#credentials.get(id);
  }

  credentialStates(): Map<string, CredentialState> {
    return new Map([...this.#credentials].map(([id, known]) => [id, known.state]));
  }

  async #readCredential(id: string): Promise<void> {
    const known = this.#credentials.get(id) ?? { next: 0n, state: credential.initialState(), login: '', passwordId: '' };
    for (const event of await this.store.readStream(credentialStream(id), { fromRevision: known.next })) {
      if (event.metadata.tenantId !== this.tenantId) break;
      const recorded = { type: event.type, data: event.data } as CredentialEvent;
      known.state = credential.evolve(known.state, recorded);
      if (recorded.type === 'CredentialAdded') {
        known.login = recorded.data.login;
        known.passwordId = recorded.data.passwordId;
      }
      known.next = event.revision + 1n;
    }
    this.#credentials.set(id, known);
  }
}
