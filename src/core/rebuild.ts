import type { EventStore } from '../eventstore/types';
import type { ProjectionRunner } from './projection-runner';

export interface RebuildProgress {
  projection: string;
  eventsApplied: number;
  /** Events in the log when the rebuild began, where the store can tell. */
  eventsInLog?: number;
  /** 'here' when this process replays it, 'elsewhere' when the process holding the projection does. */
  where: 'here' | 'elsewhere';
  done: boolean;
}

/**
 * Drops a read model and replays the log into it. When another process holds the projection,
 * it does the replay and this call follows its checkpoint until the log's end as it stood.
 */
export async function rebuildProjection(
  runner: ProjectionRunner,
  store: EventStore,
  onProgress: (progress: RebuildProgress) => void = () => undefined,
  timeoutMs = 24 * 3600 * 1000,
): Promise<RebuildProgress> {
  const eventsInLog = await store.countEvents?.();
  const head = await store.headPosition();
  await runner.reset();
  const report = (eventsApplied: number, where: RebuildProgress['where'], done: boolean): RebuildProgress => {
    const progress = { projection: runner.name, eventsApplied, eventsInLog, where, done };
    onProgress(progress);
    return progress;
  };

  let applied = 0;
  const unsubscribe = runner.onProgress((progress) => {
    applied = progress.eventsApplied;
    report(applied, 'here', false);
  });
  try {
    if (await runner.catchUp()) return report(applied, 'here', true);
  } finally {
    unsubscribe();
  }

  if (head === null) return report(0, 'elsewhere', true);
  const ticker = setInterval(() => {
    void runner.checkpoint().then(
      (checkpoint) => report(checkpoint?.eventsApplied ?? 0, 'elsewhere', false),
      () => undefined,
    );
  }, 500);
  try {
    await runner.waitForPosition(head, timeoutMs);
  } finally {
    clearInterval(ticker);
  }
  return report((await runner.checkpoint())?.eventsApplied ?? 0, 'elsewhere', true);
}
