import { snapshot, snapshotStream } from '../../domain/snapshot';
import { applyRetention, describePolicy, keepsAll } from '../../domain/retention';
import { liveSnapshotsOfPlan } from '../../queries/snapshots';
import type { PlanView } from '../../queries/views';
import { write, type AppDeps, type Request } from '../deps';

/**
 * Applies the plan's retention to each repository's live snapshots of the plan and records each
 * one no rule keeps as expired; returns how many. Objects stay where they are: only a prune
 * removes them, when no run writes.
 */
export async function expireSnapshots(deps: AppDeps, request: Request, plan: PlanView, now: () => Date = () => new Date()): Promise<number> {
  if (keepsAll(plan.retention)) return 0;
  const { tenantId } = request.principal;
  // What was recorded just before (a run's last snapshots) is judged too.
  const head = await deps.store.headPosition();
  if (head !== null) await deps.settle(head);
  const byRepository = new Map<string, { id: string; takenAt: Date }[]>();
  for (const view of await liveSnapshotsOfPlan(deps.db, tenantId, plan.id)) {
    const list = byRepository.get(view.repositoryId) ?? [];
    list.push({ id: view.id, takenAt: view.takenAt });
    byRepository.set(view.repositoryId, list);
  }
  const rule = describePolicy(plan.retention);
  const streams: string[] = [];
  let position = null;
  for (const snapshots of byRepository.values()) {
    for (const id of applyRetention(snapshots, plan.retention).expired) {
      const result = await write(deps, request, snapshot, snapshotStream(id), { type: 'RecordSnapshotExpiry', data: { expiredAt: now().toISOString(), rule } });
      if (result.position !== null) {
        position = result.position;
        streams.push(snapshotStream(id));
      }
    }
  }
  // Once, for all of them: the snapshots read model then shows every expiry.
  if (position !== null) await deps.settle(position, streams.slice(0, 1));
  return streams.length;
}
