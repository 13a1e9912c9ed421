import { GraphQLError } from 'graphql';
import { found } from '../../app/found';
import { taskStream } from '../../domain/task';
import type { RecordedEvent } from '../../eventstore/types';
import { taskById, type TaskView } from '../../queries/tasks';
import { stillAllowed } from '../audit/audit.resolver';
import { eventFeed } from '../audit/event-feed';
import type { GraphQLContext } from '../context';

const ended = (view: TaskView) => view.status === 'COMPLETED' || view.status === 'FAILED';

/**
 * A task as it stands, then again after each batch of its events, once the read model shows
 * them; it ends after the task does. The events are read from the head of the log at the time
 * of subscribing, so nothing between the first answer and the feed is missed.
 */
export async function taskProgress(context: GraphQLContext, tenantId: string, taskId: string): Promise<AsyncIterableIterator<TaskView | GraphQLError>> {
  const { store, db } = context.app;
  const stream = taskStream(taskId);
  const head = await store.headPosition();
  if (head !== null) await context.app.settle(head, [stream]);
  const first = found(await taskById(db, tenantId, taskId), 'task', taskId);
  if (ended(first)) return once(first);
  const feed = eventFeed<RecordedEvent>(store, { from: head ?? 'start', filter: { streamPrefixes: [stream] }, allowed: stillAllowed(context) }, (event) =>
    event.stream === stream ? event : null,
  );

  async function* progress(): AsyncGenerator<TaskView | GraphQLError> {
    try {
      yield first;
      let shown = first.version;
      for (;;) {
        const { value, done } = await feed.next();
        if (done) return;
        if (value instanceof GraphQLError) {
          yield value;
          return;
        }
        // Already shown by the view delivered after an earlier event of the same batch.
        if (Number(value.revision) <= shown) continue;
        await context.app.settle(value.position, [stream]);
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
  const iterator: AsyncIterableIterator<TaskView | GraphQLError> = {
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
