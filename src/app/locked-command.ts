import type { HandleOptions, HandleResult } from '../core/command-handler';
import type { Decider, DomainEvent } from '../core/decider';
import { execute, type AppDeps, type Request } from './deps';

/**
 * The one way to run a command whose rule judges facts beyond its own aggregate (unique names,
 * references, how many plans a credential is on), looked up from the read models. Under the
 * tenant lock, `command` looks the facts up and is decided, appended, and waited for until the
 * read models include it; only then is the lock let go. Were the wait after the release, the
 * next command's look-up could miss this one, and two could pass a rule only one may.
 */
export function executeLocked<State, Command, Event extends DomainEvent>(
  deps: AppDeps,
  request: Request,
  decider: Decider<State, Command, Event>,
  stream: string,
  command: () => Promise<Command>,
  options: HandleOptions & { causationId?: string } = {},
): Promise<HandleResult<State, Event>> {
  return deps.tenantLock.run(request.principal.tenantId, async () => execute(deps, request, decider, stream, await command(), options));
}
