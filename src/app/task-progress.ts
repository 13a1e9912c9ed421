import { taskStream } from '../domain/task';
import type { RecordedEvent } from '../eventstore/types';
import { taskById, type TaskView } from '../queries/tasks';
import type { AppDeps, Request } from './deps';
import { eventFeed, FeedEndedError } from './event-feed';
import { found } from './found';
import { stillAllowed } from './live-access';
import { whoOf } from './audit';

const ended = (view: TaskView) => view.status === 'COMPLETED' || view.status === 'FAILED';

/**
 * A task as it stands, then again after each batch of its events, once the read model shows
 * them; it ends after the task does. The events are read from the head of the log at the time
 * of subscribing, so nothing between the first answer and the feed is missed.
 */
export async function taskProgress(deps: AppDeps, request: Request, taskId: string): Promise<AsyncIterableIterator<TaskView | FeedEndedError>> {
  const { store, db } = deps;
  const tenantId = request.principal.tenantId;
  const stream = taskStream(taskId);
  const head = await store.headPosition();
  if (head !== null) await deps.settle(head, [stream]);
  const first = found(await taskById(db, tenantId, taskId), 'task', taskId);
  if (ended(first)) return once(first);
  const feed = eventFeed<RecordedEvent>(
    store,
    { from: head ?? 'start', filter: { streamPrefixes: [stream] }, allowed: stillAllowed(deps, request.principal), who: whoOf(request.principal) },
    (event) => (event.stream === stream ? event : null),
  );

  async function* progress(): AsyncGenerator<TaskView | FeedEndedError> {
    try {
      yield first;
      let shown = first.version;
      for (;;) {
        const { value, done } = await feed.next();
        if (done) return;
        if (value instanceof FeedEndedError) {
          yield value;
          return;
        }
        // Already shown by the view delivered after an earlier event of the same batch.
        if (Number(value.revision) <= shown) continue;
        await deps.settle(value.position, [stream]);
        const view = await taskById(db, tenantId, taskId);
        if (view === null) continue;
        shown = view.version;
        yield view;
        if (ended(view)) return;
      }
    } finally {
      await feed.return!();
    }
  }

  const generator = progress();
  const iterator: AsyncIterableIterator<TaskView | FeedEndedError> = {
    next: () => generator.next(),
    // A client that leaves ends the feed at once, even while it waits for the next event.
    async return() {
      await feed.return!();
      return generator.return(undefined);
    },
    throw: (error?: unknown) => generator.throw(error),
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

async function* once(view: TaskView): AsyncGenerator<TaskView> {
  yield view;
}
