// Prune: the removal from one storage of the objects no live snapshot names. A run stores objects
// before it records the snapshot that names them, and reuses objects already stored, so a prune
// and a run must never overlap on a storage: a prune starts only while no run of the storage
// goes on, and a run starts only while no prune does. The log holds which prune is under way.
import type { Decider } from './decider';
import { DomainError } from './errors';

export interface PruneOutcome {
  objectsRemoved: number;
  bytesFreed: number;
}

export type PruneEvent =
  | { type: 'PruneStarted'; data: { pruneId: string; storageId: string; startedAt: string } }
  /** failure: null when it went through; else why it stopped (what it removed until then is counted). */
  | { type: 'PruneFinished'; data: PruneOutcome & { pruneId: string; storageId: string; finishedAt: string; failure: string | null } };

export type PruneCommand =
  | {
      type: 'StartPrune';
      data: {
        pruneId: string;
        storageId: string;
        now: string;
        /** The running prune's last sign of life (its start, or its process's last beat), and how long silence means it is dead. */
        lastSignOfLifeAt: string | null;
        staleAfterMs: number;
        known: { runsWriting: number };
      };
    }
  | { type: 'FinishPrune'; data: PruneOutcome & { pruneId: string; now: string; failure: string | null } };

export interface PruneState {
  running: { pruneId: string; storageId: string; startedAt: string } | null;
}

export const prune: Decider<PruneState, PruneCommand, PruneEvent> = {
  initialState: () => ({ running: null }),
  evolve(state, event) {
    switch (event.type) {
      case 'PruneStarted':
        return { running: { ...event.data } };
      case 'PruneFinished':
        return state.running?.pruneId === event.data.pruneId ? { running: null } : state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'StartPrune': {
        const { pruneId, storageId, now, lastSignOfLifeAt, staleAfterMs, known } = command.data;
        const events: PruneEvent[] = [];
        if (state.running !== null) {
          if (!pruneStale(state, lastSignOfLifeAt, staleAfterMs, now)) throw new DomainError('CONFLICT', 'a prune of this storage is already running');
          // Its process is gone: it is recorded as ended before the next one starts.
          events.push({
            type: 'PruneFinished',
            data: {
              pruneId: state.running.pruneId,
              storageId: state.running.storageId,
              objectsRemoved: 0,
              bytesFreed: 0,
              finishedAt: now,
              failure: 'it showed no sign of life for too long',
            },
          });
        }
        if (known.runsWriting > 0) throw new DomainError('CONFLICT', 'a plan run is writing to this storage; prune when it has finished');
        events.push({ type: 'PruneStarted', data: { pruneId, storageId, startedAt: now } });
        return events;
      }
      case 'FinishPrune': {
        const { pruneId, now, failure, objectsRemoved, bytesFreed } = command.data;
        if (state.running?.pruneId !== pruneId) throw new DomainError('CONFLICT', `prune ${pruneId} is not running`);
        for (const [name, value] of Object.entries({ objectsRemoved, bytesFreed })) {
          if (!Number.isSafeInteger(value) || value < 0) throw new DomainError('INVALID_INPUT', `${name} must be a whole number of 0 or more`);
        }
        return [{ type: 'PruneFinished', data: { pruneId, storageId: state.running.storageId, objectsRemoved, bytesFreed, finishedAt: now, failure } }];
      }
    }
  },
};

/**
 * Whether a prune is under way at `now`: started, not finished, and alive (its last sign of life
 * within staleAfterMs). A prune whose process is gone stops holding runs back once it is stale.
 */
export function pruneUnderWay(state: PruneState, lastSignOfLifeAt: string | null, staleAfterMs: number, now: string): boolean {
  return state.running !== null && !pruneStale(state, lastSignOfLifeAt, staleAfterMs, now);
}

function pruneStale(state: PruneState, lastSignOfLifeAt: string | null, staleAfterMs: number, now: string): boolean {
  if (state.running === null) return false;
  const last = Math.max(Date.parse(state.running.startedAt), lastSignOfLifeAt === null ? 0 : Date.parse(lastSignOfLifeAt));
  return Date.parse(now) - last > staleAfterMs;
}

/** One stream per storage of a tenant: the default storage has the same id in every tenant. */
export const pruneStream = (storageId: string, tenantKey: string) => `prune-${storageId}-${tenantKey}`;
