import { createHash } from 'node:crypto';
import { readState } from '../../core/read-state';
import { prune, pruneStream, pruneUnderWay, type PruneState } from '../../domain/prune';
import type { AppDeps } from '../deps';

/** The prune stream of a tenant's storage: the tenant's id goes into its name, as a hash when it is not a plain one. */
export function pruneStreamOf(storageId: string, tenantId: string): string {
  const key = /^[A-Za-z0-9_.@+=-]{1,64}$/.test(tenantId) ? tenantId : createHash('sha256').update(tenantId).digest('hex').slice(0, 32);
  return pruneStream(storageId, key);
}

/** The storage's prune as the log has it, with the running one's last beat. */
export async function pruneStateOf(
  deps: Pick<AppDeps, 'store' | 'heartbeats'>,
  tenantId: string,
  storageId: string,
): Promise<{ state: PruneState; lastSignOfLifeAt: string | null }> {
  const { state } = await readState(deps.store, prune, pruneStreamOf(storageId, tenantId), tenantId);
  const beat = state.running === null ? null : await deps.heartbeats.lastBeat(tenantId, state.running.pruneId);
  return { state, lastSignOfLifeAt: beat?.toISOString() ?? null };
}

/** Whether a prune of the storage is under way now: started, not finished, and alive. */
export async function pruneRunning(deps: Pick<AppDeps, 'store' | 'heartbeats' | 'work'>, tenantId: string, storageId: string): Promise<boolean> {
  const { state, lastSignOfLifeAt } = await pruneStateOf(deps, tenantId, storageId);
  return pruneUnderWay(state, lastSignOfLifeAt, deps.work.taskStaleAfterMs, new Date().toISOString());
}
