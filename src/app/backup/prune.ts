import { randomUUID } from 'node:crypto';
import { ConcurrencyError, DomainError, ProjectionTimeoutError } from '../../core/errors';
import { prune } from '../../domain/prune';
import { messageOf } from '../../errors';
import { planById, unfinishedTasksOnStorage } from '../../queries/plans';
import { liveSnapshotsInStorage } from '../../queries/snapshots';
import { execute, type AppDeps, type Request } from '../deps';
import { found } from '../found';
import { behindRefusal } from '../locked-command';
import { beatWhileRunning } from '../plan-run/heartbeat';
import { abandonIfStale } from '../plan-run/run-plan';
import { storageOfPlan } from '../plans';
import { expireSnapshots } from './expiry';
import { objectsOf } from './manifest';
import { pruneStateOf, pruneStreamOf } from './prune-state';
import { manifestOf } from './snapshots';
import { storageById } from './storages';

export interface PruneReport {
  /** Snapshots of the plan its retention let go now. */
  expired: number;
  /** Objects removed from the plan's storage, and their stored bytes. */
  objectsRemoved: number;
  bytesFreed: number;
}

/**
 * pruneSnapshots: applies the plan's retention, then removes from the plan's storage every object
 * that no live snapshot of that storage names, whichever plan took it (objects are shared by
 * content across plans and repositories).
 *
 * A run stores objects before it records the snapshot naming them, and reuses objects it finds
 * stored: were a prune to list the storage while a run writes, it could remove an object the run
 * is about to name. So the two exclude each other through the log, under the tenant lock: the
 * prune starts (PruneStarted) only while no task of a plan on the storage runs, and runPlan
 * refuses while a prune of its storage is under way, until PruneFinished or until the prune has
 * shown no sign of life (its process beats) for the stale time.
 */
export async function pruneSnapshots(deps: AppDeps, request: Request, planId: string): Promise<PruneReport> {
  const { tenantId } = request.principal;
  const plan = found(await planById(deps.db, tenantId, planId), 'plan', planId);
  const storageId = storageOfPlan(plan);
  const storage = found(await storageById(deps, tenantId, storageId), 'storage', storageId);
  const pruneId = randomUUID();
  const stream = pruneStreamOf(storageId, tenantId);
  await deps.tenantLock.run(tenantId, async () => {
    // Every run's start and every snapshot recorded before now is in the read models looked at.
    const head = await deps.store.headPosition();
    if (head !== null) {
      await deps.settle(head).catch((error: unknown) => {
        throw behindRefusal(deps, error);
      });
    }
    let runsWriting = 0;
    for (const taskId of await unfinishedTasksOnStorage(deps.db, tenantId, storageId, storage.isDefault)) {
      try {
        // A task whose process is gone is recorded as failed, and holds nothing back.
        await abandonIfStale(deps, request, taskId);
      } catch (error) {
        if (!(error instanceof DomainError && error.code === 'CONFLICT')) throw error;
        runsWriting += 1;
      }
    }
    const { lastSignOfLifeAt } = await pruneStateOf(deps, tenantId, storageId);
    await execute(deps, request, prune, stream, {
      type: 'StartPrune',
      data: { pruneId, storageId, now: new Date().toISOString(), lastSignOfLifeAt, staleAfterMs: deps.work.taskStaleAfterMs, known: { runsWriting } },
    });
  });
  const stopBeating = beatWhileRunning(deps, tenantId, pruneId);
  const outcome = { objectsRemoved: 0, bytesFreed: 0 };
  let failure: string | null = null;
  let expired = 0;
  try {
    // Only once the prune holds the storage: a prune refused has recorded nothing.
    // The prune is recorded as started by now (and expiries may be): not a refusal that wrote nothing.
    expired = await expireSnapshots(deps, request, plan).catch((error: unknown) => {
      throw error instanceof ProjectionTimeoutError
        ? new ConcurrencyError('the read models are catching up with the history: the prune stopped; try again shortly')
        : error;
    });
    await removeUnnamed(deps, tenantId, storageId, outcome, () => stillHolds(deps, tenantId, storageId, pruneId));
  } catch (error) {
    failure = messageOf(error);
    throw error;
  } finally {
    try {
      await execute(deps, request, prune, stream, { type: 'FinishPrune', data: { pruneId, now: new Date().toISOString(), failure, ...outcome } }).catch(
        (error: unknown) => {
          // Taken for gone, it was recorded as ended by the prune that took its place.
          if (!(error instanceof DomainError && error.code === 'CONFLICT')) throw error;
        },
      );
    } finally {
      await stopBeating();
    }
  }
  return { expired, ...outcome };
}

/**
 * Removes every object of the storage that no live snapshot names. A manifest that cannot be
 * read stops the prune before anything is removed: what it names is unknown, so nothing is safe.
 */
async function removeUnnamed(
  deps: AppDeps,
  tenantId: string,
  storageId: string,
  outcome: { objectsRemoved: number; bytesFreed: number },
  holds: () => Promise<void>,
): Promise<void> {
  const store = deps.backup.store(tenantId, storageId);
  const named = new Set<string>();
  for (const view of await liveSnapshotsInStorage(deps.db, tenantId, storageId)) {
    named.add(store.nameOf(view.manifestHash));
    for (const object of objectsOf(await manifestOf(deps, tenantId, view))) named.add(store.nameOf(object.sha256));
  }
  const unnamed: { name: string; size: number }[] = [];
  for await (const entry of store.list()) if (!named.has(entry.name)) unnamed.push(entry);
  await removeWhileHeld(unnamed, (name) => store.removeName(name), holds, outcome);
}

/**
 * Removes the entries one by one, checking that the prune still holds its storage before the
 * first removal and then every second: a prune stalled past the stale time may have been taken
 * for gone, and runs may write again; it stops at once.
 */
export async function removeWhileHeld(
  entries: { name: string; size: number }[],
  remove: (name: string) => Promise<void>,
  holds: () => Promise<void>,
  outcome: { objectsRemoved: number; bytesFreed: number },
  now: () => number = Date.now,
): Promise<void> {
  let checkedAt = Number.NEGATIVE_INFINITY;
  for (const entry of entries) {
    if (now() - checkedAt >= HOLD_CHECK_MS) {
      await holds();
      checkedAt = now();
    }
    await remove(entry.name);
    outcome.objectsRemoved += 1;
    outcome.bytesFreed += entry.size;
  }
}

/** How often a prune that removes objects checks that it still holds its storage (ms). */
const HOLD_CHECK_MS = 1_000;

/** Throws when the log no longer has this prune running: another took it for gone and may have let runs write since. */
async function stillHolds(deps: AppDeps, tenantId: string, storageId: string, pruneId: string): Promise<void> {
  const { state } = await pruneStateOf(deps, tenantId, storageId);
  if (state.running?.pruneId !== pruneId) {
    throw new ConcurrencyError(`prune ${pruneId} was taken for gone after showing no sign of life for too long: it stopped removing objects`);
  }
}
