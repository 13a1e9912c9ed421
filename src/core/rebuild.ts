import type { EventStore } from '../eventstore/types';
import type { IndexBuild, ProjectionRunner } from './projection-runner';
import { Throughput } from './throughput';

export interface RebuildProgress {
  projection: string;
  eventsApplied: number;
  /** Events in the log when the rebuild began, where the store can tell. */
  eventsInLog?: number;
  /** Events of the log this projection reads, where they were counted (see countPendingEvents): what it has to apply. */
  eventsToApply?: number;
  /** The pace of the last few seconds; over the whole rebuild once done. */
  eventsPerSecond: number;
  /** At that pace, where what it has to apply is known. */
  secondsLeft: number | null;
  /**
   * Once the events are applied, the index being built (see Projection.laterIndexes), the
   * number-th of those to build: the events' pace and time left then say nothing of it.
   */
  buildingIndex?: IndexBuild;
  /**
   * Followed elsewhere: the replay has reached the end and the indexes built then are still to come
   * (which one, the process building them tells in its own log).
   */
  buildingIndexes?: boolean;
  /** 'here' when this process replays it, 'elsewhere' when the process holding the projection does. */
  where: 'here' | 'elsewhere';
  done: boolean;
}

export interface RebuildOptions {
  timeoutMs?: number;
  /** Events of the log the projection reads, counted beforehand (one count serves several rebuilds). */
  eventsToApply?: number;
}

/**
 * Drops a read model and replays the log into it. When another process holds the projection,
 * it does the replay and this call follows its checkpoint until the log's end as it stood.
 */
export async function rebuildProjection(
  runner: ProjectionRunner,
  store: EventStore,
  onProgress: (progress: RebuildProgress) => void = () => undefined,
  options: RebuildOptions | number = {},
): Promise<RebuildProgress> {
  const { timeoutMs = 24 * 3600 * 1000, eventsToApply } = typeof options === 'number' ? { timeoutMs: options } : options;
  const eventsInLog = await store.countEvents?.();
  const head = await store.headPosition();
  await runner.reset();
  const startedAt = Date.now();
  const throughput = new Throughput();
  const report = (
    eventsApplied: number,
    where: RebuildProgress['where'],
    done: boolean,
    buildingIndex?: IndexBuild,
    buildingIndexes = false,
  ): RebuildProgress => {
    throughput.record(eventsApplied);
    const average = (eventsApplied * 1000) / Math.max(Date.now() - startedAt, 1);
    const eventsPerSecond = Math.round(done ? average : (throughput.perSecond() ?? average));
    const left = eventsToApply === undefined ? null : Math.max(eventsToApply - eventsApplied, 0);
    const secondsLeft = done ? 0 : !buildingIndexes && left !== null && eventsPerSecond > 0 ? Math.ceil(left / eventsPerSecond) : null;
    const progress: RebuildProgress = { projection: runner.name, eventsApplied, eventsInLog, eventsToApply, eventsPerSecond, secondsLeft, where, done };
    if (buildingIndex) progress.buildingIndex = buildingIndex;
    if (buildingIndexes) progress.buildingIndexes = true;
    onProgress(progress);
    return progress;
  };

  let applied = 0;
  const unsubscribe = runner.onProgress((progress) => {
    applied = progress.eventsApplied;
    report(applied, 'here', false);
  });
  const unsubscribeIndexes = runner.onIndexBuild((build) => {
    applied = build.eventsApplied;
    report(applied, 'here', false, build);
  });
  try {
    if (await runner.catchUp()) return report(applied, 'here', true);
  } finally {
    unsubscribe();
    unsubscribeIndexes();
  }

  if (head === null) return report(0, 'elsewhere', true);
  const ticker = setInterval(() => {
    void runner.checkpoint().then(
      (checkpoint) => {
        // At the end with the note on: the indexes are being built.
        const atEnd = checkpoint?.position != null && store.comparePositions(checkpoint.position, head) >= 0;
        report(checkpoint?.eventsApplied ?? 0, 'elsewhere', false, undefined, atEnd && checkpoint.indexesPending);
      },
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
