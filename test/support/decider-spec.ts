import { fold, type Decider, type DomainEvent } from '../../src/core/decider';
import { DomainError } from '../../src/core/errors';

/** given(past events).when(command).then(new events) — or .thenRefuses(code). */
export function deciderSpec<State, Command, Event extends DomainEvent>(decider: Decider<State, Command, Event>) {
  return {
    given: (events: Event[]) => ({
      when: (command: Command) => {
        const decide = () => decider.decide(command, fold(decider, events));
        return {
          // biome-ignore lint/suspicious/noThenProperty: then is the final step of the given/when/then specification DSL; the object is never awaited
          then: (expected: Event[]) => expect(decide()).toEqual(expected),
          thenRefuses: (code: string, message?: RegExp) => {
            let error: unknown;
            try {
              decide();
            } catch (caught) {
              error = caught;
            }
            expect(error).toBeInstanceOf(DomainError);
            expect((error as DomainError).code).toBe(code);
            if (message) expect((error as DomainError).message).toMatch(message);
          },
        };
      },
    }),
  };
}
