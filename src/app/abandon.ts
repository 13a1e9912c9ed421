import type { Decider, DomainEvent } from '../core/decider';
import { execute, type AppDeps, type Request } from './deps';

/** How long a piece of work has been silent, as the deciders that may take it for gone judge it. */
export interface Silence {
  now: string;
  lastSignOfLifeAt: string;
  staleAfterMs: number;
}

/**
 * Has the work's decider take it for gone (it refuses with CONFLICT while the work is alive), and
 * takes its beat away. Its last event and its process's last beat are both signs of life: live
 * work may record nothing for long, but beats.
 */
export async function abandonWhenSilent<State, Command, Event extends DomainEvent>(
  deps: AppDeps,
  request: Request,
  decider: Decider<State, Command, Event>,
  stream: string,
  id: string,
  abandon: (silence: Silence) => Command,
): Promise<void> {
  const [last] = await deps.store.readStream(stream, { fromRevision: 'end', direction: 'backwards', maxCount: 1 });
  const beat = await deps.heartbeats.lastBeat(request.principal.tenantId, id);
  const lastSignOfLife = beat !== null && beat > last.recordedAt ? beat : last.recordedAt;
  await execute(
    deps,
    request,
    decider,
    stream,
    abandon({ now: new Date().toISOString(), lastSignOfLifeAt: lastSignOfLife.toISOString(), staleAfterMs: deps.work.taskStaleAfterMs }),
  );
  // Its process is gone and will not take its beat away itself.
  await deps.heartbeats.stop(id);
}
