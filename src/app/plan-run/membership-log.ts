import { DomainError } from '../../core/errors';
import { readState, type Fold, type StreamState } from '../../core/read-state';
import { credential, credentialStream, type CredentialEvent, type CredentialState } from '../../domain/credential';
import { plan, planStream, type PlanState } from '../../domain/plan';
import type { EventStore } from '../../eventstore/types';
import type { DomainEvent } from '../../core/decider';

/** A credential as a run's checks know it: its state, and the account it was added with. */
export interface KnownCredential {
  state: CredentialState;
  login: string;
  passwordId: string;
}

const knownCredential: Fold<KnownCredential, CredentialEvent> = {
  initialState: () => ({ state: credential.initialState(), login: '', passwordId: '' }),
  evolve: (known, event) => ({
    ...known,
    state: credential.evolve(known.state, event),
    ...(event.type === 'CredentialAdded' ? { login: event.data.login, passwordId: event.data.passwordId } : {}),
  }),
};

/**
 * The plan and credential state a run checks before each request, read from the log itself (a
 * read model could lag), each stream on from the revision the last check read.
 */
export class MembershipLog {
  #plan: StreamState<PlanState> | undefined;
  readonly #credentials = new Map<string, StreamState<KnownCredential>>();

  constructor(
    private readonly store: EventStore,
    private readonly tenantId: string,
    private readonly planId: string,
  ) {}

  async readPlan(): Promise<PlanState> {
    this.#plan = await this.#read(plan, planStream(this.planId), this.#plan);
    return this.#plan?.state ?? plan.initialState();
  }

  /** Reads what was appended to each credential's stream since the last check. */
  async readCredentials(ids: readonly string[]): Promise<void> {
    await Promise.all(
      ids.map(async (id) => {
        const read = await this.#read(knownCredential, credentialStream(id), this.#credentials.get(id));
        if (read !== undefined) this.#credentials.set(id, read);
      }),
    );
  }

  credential(id: string): KnownCredential | undefined {
    return this.#credentials.get(id)?.state;
  }

  credentialStates(): Map<string, CredentialState> {
    return new Map([...this.#credentials].map(([id, known]) => [id, known.state.state]));
  }

  /** Another tenant's stream is none of the run's: nothing of it counts, and so it lets no credential in. */
  async #read<State, Event extends DomainEvent>(fold: Fold<State, Event>, stream: string, since?: StreamState<State>): Promise<StreamState<State> | undefined> {
    try {
      return await readState(this.store, fold, stream, this.tenantId, since);
    } catch (error) {
      if (error instanceof DomainError) return since;
      throw error;
    }
  }
}
