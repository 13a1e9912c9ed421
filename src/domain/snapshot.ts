// Snapshot: what one run of a plan stored of one protected repository. Its manifest (in storage)
// names every object it holds by SHA-256; the manifest's own hash is recorded here, so the log's
// hash chain proves what the snapshot contained and which accounts made the requests that took it.
import type { Decider } from './decider';
import { DomainError } from './errors';
import type { CredentialUse } from './repository';

/** What the snapshot holds, counted: git refs, and the metadata read through the API. */
export interface SnapshotCounts {
  refs: number;
  branches: number;
  tags: number;
  labels: number;
  milestones: number;
  issues: number;
  issueNotes: number;
  mergeRequests: number;
  mergeRequestNotes: number;
  releases: number;
}

export interface SnapshotTaken {
  snapshotId: string;
  taskId: string;
  planId: string;
  organizationId: string;
  repositoryId: string;
  fullPath: string;
  storageId: string;
  takenAt: string;
  /** SHA-256 (hex) of the manifest as stored (before compression and encryption). */
  manifestHash: string;
  /** Plain bytes of every object the manifest names, the manifest included. */
  bytes: number;
  /** Objects the manifest names, the manifest included. */
  objects: number;
  /** Plain bytes of the objects this snapshot was the first to store. */
  newBytes: number;
  /** Bytes written to the storage for it (compressed and encrypted). */
  storedBytes: number;
  /** Whether the project's wiki repository is in it. */
  wiki: boolean;
  counts: SnapshotCounts;
  credentialsUsed: CredentialUse[];
}

export interface SnapshotVerification {
  verifiedAt: string;
  ok: boolean;
  checkedObjects: number;
  /** The SHA-256 of the first object found missing or altered; null when all were sound. */
  firstBrokenObject: string | null;
}

export type SnapshotEvent =
  | { type: 'SnapshotRecorded'; data: SnapshotTaken }
  | { type: 'SnapshotVerified'; data: SnapshotVerification & { snapshotId: string; repositoryId: string } }
  /** Someone took the snapshot's content away as an archive: who, the history's metadata says. */
  | { type: 'SnapshotDownloaded'; data: { snapshotId: string; repositoryId: string; at: string } }
  /** Its plan's retention keeps it no more: its objects may be removed by a prune, unless another snapshot names them. */
  | { type: 'SnapshotExpired'; data: SnapshotExpiry & { snapshotId: string; repositoryId: string; planId: string } };

export interface SnapshotExpiry {
  expiredAt: string;
  /** Why, in a few words: the retention rules that no longer keep it. */
  rule: string;
}

export type SnapshotCommand =
  | { type: 'RecordSnapshot'; data: SnapshotTaken }
  | { type: 'RecordSnapshotVerification'; data: SnapshotVerification }
  | { type: 'RecordSnapshotDownload'; data: { at: string } }
  | { type: 'RecordSnapshotExpiry'; data: SnapshotExpiry };

export interface SnapshotState {
  snapshot: { snapshotId: string; repositoryId: string; planId: string; objects: number; expired: boolean } | null;
}

const SHA256 = /^[0-9a-f]{64}$/;

export const snapshot: Decider<SnapshotState, SnapshotCommand, SnapshotEvent> = {
  initialState: () => ({ snapshot: null }),
  evolve(state, event) {
    switch (event.type) {
      case 'SnapshotRecorded':
        return {
          snapshot: {
            snapshotId: event.data.snapshotId,
            repositoryId: event.data.repositoryId,
            planId: event.data.planId,
            objects: event.data.objects,
            expired: false,
          },
        };
      case 'SnapshotExpired':
        return state.snapshot === null ? state : { snapshot: { ...state.snapshot, expired: true } };
      case 'SnapshotVerified':
      case 'SnapshotDownloaded':
        return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'RecordSnapshot': {
        const taken = command.data;
        if (state.snapshot !== null) throw new DomainError('CONFLICT', `snapshot ${taken.snapshotId} is already recorded`);
        if (!SHA256.test(taken.manifestHash)) throw new DomainError('INVALID_INPUT', 'manifestHash must be a SHA-256 in lowercase hex');
        for (const [name, value] of Object.entries({ bytes: taken.bytes, objects: taken.objects, newBytes: taken.newBytes, storedBytes: taken.storedBytes })) {
          if (!Number.isSafeInteger(value) || value < 0) throw new DomainError('INVALID_INPUT', `${name} must be a whole number of 0 or more`);
        }
        // The manifest is one of the objects, and what was new is part of what is named.
        if (taken.objects < 1) throw new DomainError('INVALID_INPUT', 'a snapshot names its manifest at least');
        if (taken.newBytes > taken.bytes) throw new DomainError('INVALID_INPUT', 'newBytes cannot exceed bytes');
        return [{ type: 'SnapshotRecorded', data: taken }];
      }
      case 'RecordSnapshotVerification': {
        const recorded = live(state);
        const { ok, checkedObjects, firstBrokenObject } = command.data;
        if (ok !== (firstBrokenObject === null)) throw new DomainError('INVALID_INPUT', 'a verification names a broken object exactly when it fails');
        if (!Number.isSafeInteger(checkedObjects) || checkedObjects < 0 || checkedObjects > recorded.objects) {
          throw new DomainError('INVALID_INPUT', `checkedObjects must be between 0 and the snapshot's ${recorded.objects} objects`);
        }
        if (ok && checkedObjects !== recorded.objects)
          throw new DomainError('INVALID_INPUT', `a sound snapshot has had all its ${recorded.objects} objects checked`);
        return [{ type: 'SnapshotVerified', data: { snapshotId: recorded.snapshotId, repositoryId: recorded.repositoryId, ...command.data } }];
      }
      case 'RecordSnapshotDownload': {
        const recorded = live(state);
        return [{ type: 'SnapshotDownloaded', data: { snapshotId: recorded.snapshotId, repositoryId: recorded.repositoryId, at: command.data.at } }];
      }
      case 'RecordSnapshotExpiry': {
        const recorded = state.snapshot;
        if (recorded === null) throw new DomainError('NOT_FOUND', 'no such snapshot');
        // Expired once: a retention applied again finds nothing more to do.
        if (recorded.expired) return [];
        const { snapshotId, repositoryId, planId } = recorded;
        return [{ type: 'SnapshotExpired', data: { snapshotId, repositoryId, planId, ...command.data } }];
      }
    }
  },
};

/** A snapshot that exists and has not expired: what may still be verified or taken away. */
function live(state: SnapshotState): NonNullable<SnapshotState['snapshot']> {
  const recorded = state.snapshot;
  if (recorded === null) throw new DomainError('NOT_FOUND', 'no such snapshot');
  if (recorded.expired) throw new DomainError('CONFLICT', `snapshot ${recorded.snapshotId} has expired under its plan's retention: its objects may be gone`);
  return recorded;
}

export const snapshotStream = (snapshotId: string) => `snapshot-${snapshotId}`;
