// Repository: the repositories (and, with "Protect groups", the subgroups) GitLab lists for an
// organization's group, which of them are protected, and the syncs that keep the list true. One
// stream per organization: a sync diffs the whole list, and protecting counts against it.
import type { Decider } from './decider';
import { DomainError } from './errors';

export type RepositoryKind = 'PROJECT' | 'GROUP';
/** FIRST: the organization was just added; SCHEDULE: its repositoriesSync came due; MANUAL: syncRepositories. */
export type SyncTrigger = 'SCHEDULE' | 'MANUAL' | 'FIRST';

/** One object as GitLab lists it now. */
export interface ListedRepository {
  gitlabId: number;
  kind: RepositoryKind;
  fullPath: string;
}

/** Who did the listing's requests: the organization's main login has no credential id. */
export interface CredentialUse {
  credentialId: string | null;
  login: string;
  requests: number;
}

export interface SyncStats {
  durationMs: number;
  requests: number;
  credentialsUsed: CredentialUse[];
}

type Ref = { organizationId: string; repositoryId: string };

export type RepositoryEvent =
  | { type: 'RepositoryListSyncStarted'; data: { organizationId: string; syncId: string; trigger: SyncTrigger; startedAt: string } }
  | { type: 'RepositoryDiscovered'; data: Ref & ListedRepository }
  | { type: 'RepositoryRenamed'; data: Ref & { gitlabId: number; kind: RepositoryKind; previousPath: string; fullPath: string } }
  | { type: 'RepositoryRemovedFromSource'; data: Ref & { gitlabId: number; kind: RepositoryKind; fullPath: string } }
  | { type: 'RepositoryProtected'; data: Ref & { automatic: boolean } }
  | { type: 'RepositoryUnprotected'; data: Ref }
  /** A new repository that auto-add would have protected, left unprotected: the license has no free seat. */
  | { type: 'LicenseSeatLimitReached'; data: Ref & { fullPath: string } }
  | {
      type: 'RepositoryListSynced';
      data: SyncStats & { organizationId: string; syncId: string; added: number; removed: number; renamed: number; unchanged: number };
    }
  /** The listing failed or stopped part-way: nothing was added or removed. */
  | { type: 'RepositoryListSyncFailed'; data: Partial<SyncStats> & { organizationId: string; syncId: string; reason: string } };

export type RepositoryCommand =
  /**
   * `now` is when the command runs; a running sync older than staleAfterMs is taken to be dead.
   * A start on schedule names the last start the scheduler saw: if another has started since
   * (another process served the same slot), it is not started again.
   */
  | {
      type: 'StartRepositorySync';
      data: { organizationId: string; syncId: string; trigger: SyncTrigger; now: string; staleAfterMs: number; lastStartedAtSeen?: string | null };
    }
  | {
      type: 'CompleteRepositorySync';
      data: {
        organizationId: string;
        syncId: string;
        listing: ListedRepository[];
        /** Which kinds the listing covers: objects of other kinds are left as they are. */
        kinds: RepositoryKind[];
        /** Ids for newly discovered objects, at least as many as the listing holds. */
        newIds: string[];
        autoAddNewRepositories: boolean;
        /** Free license seats of the tenant; null: no limit set. */
        freeSeats: number | null;
        stats: SyncStats;
      };
    }
  | { type: 'FailRepositorySync'; data: { organizationId: string; syncId: string; reason: string; stats?: SyncStats } }
  | { type: 'ProtectRepository'; data: Ref & { freeSeats: number | null } }
  | { type: 'UnprotectRepository'; data: Ref };

export interface KnownRepository extends ListedRepository {
  id: string;
  protected: boolean;
  removed: boolean;
}

export interface RepositoryListState {
  repositories: Record<string, KnownRepository>;
  /** The sync running now, if any. */
  running: { syncId: string; startedAt: string } | null;
  /** The latest sync to start, running or not, and when it started. */
  lastSyncId: string | null;
  lastStartedAt: string | null;
}

const key = (kind: RepositoryKind, gitlabId: number) => `${kind}:${gitlabId}`;

export const repositoryList: Decider<RepositoryListState, RepositoryCommand, RepositoryEvent> = {
  initialState: () => ({ repositories: {}, running: null, lastSyncId: null, lastStartedAt: null }),
  evolve(state, event) {
    switch (event.type) {
      case 'RepositoryListSyncStarted':
        return {
          ...state,
          running: { syncId: event.data.syncId, startedAt: event.data.startedAt },
          lastSyncId: event.data.syncId,
          lastStartedAt: event.data.startedAt,
        };
      case 'RepositoryListSynced':
      case 'RepositoryListSyncFailed':
        return state.running?.syncId === event.data.syncId ? { ...state, running: null } : state;
      case 'RepositoryDiscovered': {
        const { repositoryId, gitlabId, kind, fullPath } = event.data;
        const before = state.repositories[repositoryId];
        return set(state, { id: repositoryId, gitlabId, kind, fullPath, protected: before?.protected ?? false, removed: false });
      }
      case 'RepositoryRenamed':
        return set(state, { ...state.repositories[event.data.repositoryId], fullPath: event.data.fullPath });
      case 'RepositoryRemovedFromSource':
        return set(state, { ...state.repositories[event.data.repositoryId], removed: true });
      case 'RepositoryProtected':
        return set(state, { ...state.repositories[event.data.repositoryId], protected: true });
      case 'RepositoryUnprotected':
        return set(state, { ...state.repositories[event.data.repositoryId], protected: false });
      case 'LicenseSeatLimitReached':
        return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'StartRepositorySync': {
        const { organizationId, syncId, trigger, now, staleAfterMs, lastStartedAtSeen } = command.data;
        if (lastStartedAtSeen !== undefined && lastStartedAtSeen !== state.lastStartedAt) {
          throw new DomainError('SYNC_ALREADY_STARTED', `a sync of this organization started at ${state.lastStartedAt}, after the one the schedule saw`);
        }
        const events: RepositoryEvent[] = [];
        if (state.running !== null) {
          const age = Date.parse(now) - Date.parse(state.running.startedAt);
          if (!(age > staleAfterMs)) throw new DomainError('SYNC_RUNNING', `sync ${state.running.syncId} of this organization is still running`);
          // Its process went away without a word: it is recorded as failed, and nothing it saw counts.
          events.push({
            type: 'RepositoryListSyncFailed',
            data: { organizationId, syncId: state.running.syncId, reason: `no result after ${Math.round(age / 60_000)} minutes: the sync was interrupted` },
          });
        }
        events.push({ type: 'RepositoryListSyncStarted', data: { organizationId, syncId, trigger, startedAt: now } });
        return events;
      }
      case 'CompleteRepositorySync':
        return completed(state, command.data);
      case 'FailRepositorySync': {
        const { organizationId, syncId, reason, stats } = command.data;
        running(state, syncId);
        return [{ type: 'RepositoryListSyncFailed', data: { organizationId, syncId, reason, ...stats } }];
      }
      case 'ProtectRepository': {
        const { organizationId, repositoryId, freeSeats } = command.data;
        const repository = present(state, repositoryId);
        if (repository.protected) return [];
        if (repository.kind === 'PROJECT' && freeSeats !== null && freeSeats < 1) {
          throw new DomainError('LICENSE_SEATS_EXHAUSTED', 'every license seat is in use: unprotect a repository or raise the limit with setLicenseSeats');
        }
        return [{ type: 'RepositoryProtected', data: { organizationId, repositoryId, automatic: false } }];
      }
      case 'UnprotectRepository': {
        const { organizationId, repositoryId } = command.data;
        const repository = state.repositories[repositoryId];
        if (!repository) throw new DomainError('NOT_FOUND', `no repository ${repositoryId}`);
        if (!repository.protected) return [];
        return [{ type: 'RepositoryUnprotected', data: { organizationId, repositoryId } }];
      }
    }
  },
};

function set(state: RepositoryListState, repository: KnownRepository): RepositoryListState {
  return { ...state, repositories: { ...state.repositories, [repository.id]: repository } };
}

function running(state: RepositoryListState, syncId: string): void {
  if (state.running?.syncId !== syncId) throw new DomainError('CONFLICT', `sync ${syncId} is not running: another sync took over`);
}

function present(state: RepositoryListState, repositoryId: string): KnownRepository {
  const repository = state.repositories[repositoryId];
  if (!repository) throw new DomainError('NOT_FOUND', `no repository ${repositoryId}`);
  if (repository.removed) throw new DomainError('CONFLICT', `repository ${repository.fullPath} was removed from GitLab`);
  return repository;
}

/** The diff of GitLab's list against the known one, by GitLab id: new, renamed, gone. */
function completed(state: RepositoryListState, data: Extract<RepositoryCommand, { type: 'CompleteRepositorySync' }>['data']): RepositoryEvent[] {
  const { organizationId, syncId, listing, kinds, newIds, autoAddNewRepositories, stats } = data;
  running(state, syncId);
  const known = new Map(Object.values(state.repositories).map((repository) => [key(repository.kind, repository.gitlabId), repository]));
  const seen = new Set<string>();
  const events: RepositoryEvent[] = [];
  let freeSeats = data.freeSeats;
  let added = 0;
  let renamed = 0;
  let unchanged = 0;
  let nextId = 0;
  for (const listed of listing) {
    const listedKey = key(listed.kind, listed.gitlabId);
    if (seen.has(listedKey)) continue;
    seen.add(listedKey);
    const before = known.get(listedKey);
    if (before && !before.removed) {
      if (before.fullPath === listed.fullPath) unchanged++;
      else {
        renamed++;
        events.push({
          type: 'RepositoryRenamed',
          data: {
            organizationId,
            repositoryId: before.id,
            gitlabId: listed.gitlabId,
            kind: listed.kind,
            previousPath: before.fullPath,
            fullPath: listed.fullPath,
          },
        });
      }
      continue;
    }
    // Back after a removal, it keeps its id; otherwise it is new.
    const repositoryId = before?.id ?? newIds[nextId++];
    if (repositoryId === undefined) throw new DomainError('INVALID_INPUT', 'not enough ids for the repositories discovered');
    added++;
    events.push({ type: 'RepositoryDiscovered', data: { organizationId, repositoryId, ...listed } });
    if (before?.protected && listed.kind === 'PROJECT') {
      // Gone, it freed its seat; back, it takes one again, or loses its protection.
      if (freeSeats !== null && freeSeats < 1) {
        events.push({ type: 'RepositoryUnprotected', data: { organizationId, repositoryId } });
        events.push({ type: 'LicenseSeatLimitReached', data: { organizationId, repositoryId, fullPath: listed.fullPath } });
      } else if (freeSeats !== null) freeSeats--;
      continue;
    }
    if (before?.protected) continue;
    if (listed.kind === 'GROUP') {
      // "Protect groups": the group structure is protected with the organization, and takes no seat.
      events.push({ type: 'RepositoryProtected', data: { organizationId, repositoryId, automatic: true } });
    } else if (autoAddNewRepositories) {
      if (freeSeats !== null && freeSeats < 1) {
        events.push({ type: 'LicenseSeatLimitReached', data: { organizationId, repositoryId, fullPath: listed.fullPath } });
      } else {
        if (freeSeats !== null) freeSeats--;
        events.push({ type: 'RepositoryProtected', data: { organizationId, repositoryId, automatic: true } });
      }
    }
  }
  let removed = 0;
  for (const repository of known.values()) {
    if (repository.removed || !kinds.includes(repository.kind) || seen.has(key(repository.kind, repository.gitlabId))) continue;
    removed++;
    events.push({
      type: 'RepositoryRemovedFromSource',
      data: { organizationId, repositoryId: repository.id, gitlabId: repository.gitlabId, kind: repository.kind, fullPath: repository.fullPath },
    });
  }
  events.push({ type: 'RepositoryListSynced', data: { organizationId, syncId, added, removed, renamed, unchanged, ...stats } });
  return events;
}

export const repositoryListStream = (organizationId: string) => `repositories-${organizationId}`;
