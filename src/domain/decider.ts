/**
 * An aggregate as three pure functions: no I/O, no clock, no ids made inside.
 * Whatever varies (ids, times, the actor) comes in with the command.
 */
export interface DomainEvent {
  type: string;
  data: object;
}

export interface Decider<State, Command, Event extends DomainEvent> {
  initialState: () => State;
  evolve: (state: State, event: Event) => State;
  /** The events the command causes, or a thrown DomainError when a rule forbids it. [] means nothing to do. */
  decide: (command: Command, state: State) => Event[];
}

export function fold<State, Event extends DomainEvent>(decider: Pick<Decider<State, unknown, Event>, 'initialState' | 'evolve'>, events: Event[]): State {
  return events.reduce(decider.evolve, decider.initialState());
}
