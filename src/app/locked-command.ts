import type { HandleOptions, HandleResult } from '../core/command-handler';
import type { Decider, DomainEvent } from '../core/decider';
import { ProjectionTimeoutError, ReadModelsCatchingUpError } from '../core/errors';
import { execute, type AppDeps, type Request } from './deps';

/**
 * The one way to run a command whose rule judges facts beyond its own aggregate (unique names,
 * references, how many plans a credential is on), looked up from the read models. Under the
 * tenant lock, `command` looks the facts up and is decided, appended, and waited for until the
 * read models include it; only then is the lock let go. Were the wait after the release, the
 * next command's look-up could miss this one, and two could pass a rule only one may.
 *
 * With `scopes`, the command's facts are those of the things named alone (`credential:<id>`):
 * it holds the tenant's lock shared and each scope's alone, so that commands about other things
 * go side by side. Every command that changes such a fact must name the thing too, or hold the
 * tenant's lock alone.
 */
export async function executeLocked<State, Command, Event extends DomainEvent>(
  deps: AppDeps,
  request: Request,
  decider: Decider<State, Command, Event>,
  stream: string,
  command: () => Promise<Command>,
  options: HandleOptions & { causationId?: string; scopes?: readonly string[] } = {},
): Promise<HandleResult<State, Event>> {
  return (await executeLockedAnswering(deps, request, decider, stream, command, async () => undefined, options)).result;
}

/**
 * executeLocked, and what the caller answers with (a read of the read models), read once the
 * command is written and shown, while the locks are let go: the answer then costs no round trip
 * of its own after the release. It is read before the release, so it shows at least the command.
 */
export async function executeLockedAnswering<State, Command, Event extends DomainEvent, Answer>(
  deps: AppDeps,
  request: Request,
  decider: Decider<State, Command, Event>,
  stream: string,
  command: () => Promise<Command>,
  answer: (result: HandleResult<State, Event>) => Promise<Answer>,
  options: HandleOptions & { causationId?: string; scopes?: readonly string[] } = {},
): Promise<{ result: HandleResult<State, Event>; answer: Answer }> {
  const { scopes, ...handleOptions } = options;
  const locked = async () => {
    await caughtUp(deps);
    // The command's stream is read while its facts are looked up.
    const result = await execute(deps, request, decider, stream, command(), handleOptions);
    const answering = answer(result);
    // Awaited once the locks are let go; should their release fail first, its rejection is not left unhandled.
    answering.catch(() => undefined);
    return { result, answering };
  };
  const { tenantId } = request.principal;
  const { result, answering } = await (scopes === undefined ? deps.tenantLock.run(tenantId, locked) : deps.tenantLock.runScoped(tenantId, scopes, locked));
  return { result, answer: await answering };
}

/** How soon a command refused because its facts' read models were behind may be sent again. */
export const BEHIND_RETRY_MS = 5000;

/**
 * The read models a command's facts come from did not reach the log's end in time, while nothing
 * said they were catching up (a runner stalled, another process far behind): nothing was looked
 * up or written, and the same command may be sent again (UNAVAILABLE, as a change refused while
 * they catch up is).
 */
export class ReadModelsBehindError extends ReadModelsCatchingUpError {
  constructor(projection: string) {
    super([projection], BEHIND_RETRY_MS);
  }
}

/**
 * What a command that wrote nothing answers when its wait for the read models timed out: they are
 * catching up, as far as this process knows, or else stuck; refused either way, to be sent again.
 */
export function behindRefusal(deps: Pick<AppDeps, 'catchingUp'>, error: unknown): unknown {
  return error instanceof ProjectionTimeoutError ? (deps.catchingUp() ?? new ReadModelsBehindError(error.projection)) : error;
}

/**
 * Whatever an earlier holder of the lock wrote, in this process or another, is in the read models
 * before this one looks its facts up: also the write of a holder whose own wait timed out after
 * it had appended (it answered an error, but its event stands).
 */
async function caughtUp(deps: AppDeps): Promise<void> {
  try {
    // Every read model answers show: the facts of a rule come from other aggregates' (a plan's
    // from its organization and credentials). Kept inline, they hold every committed event.
    await deps.settle('last-committed');
  } catch (error) {
    throw behindRefusal(deps, error);
  }
}
