import type { Task, TaskDetail } from './documents';

export const ended = (task: Task) => task.status === 'COMPLETED' || task.status === 'FAILED';

/**
 * The task to show from its last read and the last message of taskProgress, whichever is further:
 * a read that saw the task end is final, and a message is taken over a read only when it has read
 * at least as many repositories (a message sent before a newer read would show a stale status).
 * The accounts' credentials come only with a read of the task.
 */
export function mergedTask(loaded: TaskDetail, live: Task | null): TaskDetail {
  if (live === null || ended(loaded) || live.repositoriesDone < loaded.repositoriesDone) return loaded;
  return { ...loaded, ...live, credentialsUsed: ended(live) ? live.credentialsUsed : loaded.credentialsUsed };
}
