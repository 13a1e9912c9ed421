import { DomainError } from '../../core/errors';
import { readState } from '../../core/read-state';
import { snapshot, snapshotStream, type SnapshotTaken } from '../../domain/snapshot';
import { task, taskStream } from '../../domain/task';
import { write, type AppDeps, type Request } from '../deps';

/**
 * Records a snapshot for its task, only while the task still runs, under the tenant lock.
 *
 * A prune takes that lock to record as failed the tasks it takes for dead and to start, then
 * removes every object no recorded snapshot names. A task taken for dead while its process was
 * in fact alive (stalled past the stale time) may have stored objects the prune has removed
 * since: its snapshot must not be recorded then, or it would name what is gone. Under the lock,
 * either the snapshot is in the log before the prune looks (and the prune keeps what it names),
 * or the task has been recorded as failed, and the snapshot is refused.
 */
export async function recordSnapshot(deps: AppDeps, request: Request, taken: SnapshotTaken): Promise<void> {
  const { tenantId } = request.principal;
  await deps.tenantLock.run(tenantId, async () => {
    const { state } = await readState(deps.store, task, taskStream(taken.taskId), tenantId);
    if (state.status !== 'RUNNING' && state.status !== 'THROTTLED') {
      throw new DomainError('CONFLICT', `task ${taken.taskId} has ended: its snapshot of ${taken.fullPath} is not recorded`);
    }
    await write(deps, request, snapshot, snapshotStream(taken.snapshotId), { type: 'RecordSnapshot', data: taken });
  });
}
