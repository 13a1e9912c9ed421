import {
  repositoryList,
  type ListedRepository,
  type RepositoryCommand,
  type RepositoryEvent,
  type RepositoryKind,
  type SyncStats,
} from '../../src/domain/repository';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(repositoryList);

const organizationId = 'o1';
const stats: SyncStats = { durationMs: 1200, requests: 3, credentialsUsed: [{ credentialId: null, login: 'main-bot', requests: 3 }] };
const HOUR = 3_600_000;

const project = (gitlabId: number, fullPath: string): ListedRepository => ({ gitlabId, kind: 'PROJECT', fullPath });
const group = (gitlabId: number, fullPath: string): ListedRepository => ({ gitlabId, kind: 'GROUP', fullPath });

const start = (syncId: string, now = '2026-03-01T10:00:00.000Z', staleAfterMs = HOUR): RepositoryCommand => ({
  type: 'StartRepositorySync',
  data: { organizationId, syncId, trigger: 'MANUAL', now, staleAfterMs },
});
const started = (syncId: string, startedAt = '2026-03-01T10:00:00.000Z', trigger: 'MANUAL' | 'FIRST' | 'SCHEDULE' = 'MANUAL'): RepositoryEvent => ({
  type: 'RepositoryListSyncStarted',
  data: { organizationId, syncId, trigger, startedAt },
});
type CompleteData = Extract<RepositoryCommand, { type: 'CompleteRepositorySync' }>['data'];
const complete = (listing: ListedRepository[], overrides: Partial<CompleteData> = {}): RepositoryCommand => ({
  type: 'CompleteRepositorySync',
  data: {
    organizationId,
    syncId: 's1',
    listing,
    kinds: ['PROJECT', 'GROUP'],
    newIds: ['r1', 'r2', 'r3', 'r4', 'r5'],
    autoAddNewRepositories: false,
    freeSeats: null,
    stats,
    ...overrides,
  },
});
const synced = (counts: { added?: number; removed?: number; renamed?: number; unchanged?: number }, syncId = 's1'): RepositoryEvent => ({
  type: 'RepositoryListSynced',
  data: { organizationId, syncId, added: 0, removed: 0, renamed: 0, unchanged: 0, ...counts, ...stats },
});
const discovered = (repositoryId: string, listed: ListedRepository): RepositoryEvent => ({
  type: 'RepositoryDiscovered',
  data: { organizationId, repositoryId, ...listed },
});
const renamed = (repositoryId: string, gitlabId: number, previousPath: string, fullPath: string, kind: RepositoryKind = 'PROJECT'): RepositoryEvent => ({
  type: 'RepositoryRenamed',
  data: { organizationId, repositoryId, gitlabId, kind, previousPath, fullPath },
});
const removedFromSource = (repositoryId: string, listed: ListedRepository): RepositoryEvent => ({
  type: 'RepositoryRemovedFromSource',
  data: { organizationId, repositoryId, gitlabId: listed.gitlabId, kind: listed.kind, fullPath: listed.fullPath },
});
const protectedEvent = (repositoryId: string, automatic: boolean): RepositoryEvent => ({
  type: 'RepositoryProtected',
  data: { organizationId, repositoryId, automatic },
});
const unprotectedEvent = (repositoryId: string): RepositoryEvent => ({ type: 'RepositoryUnprotected', data: { organizationId, repositoryId } });
const seatLimitReached = (repositoryId: string, fullPath: string): RepositoryEvent => ({
  type: 'LicenseSeatLimitReached',
  data: { organizationId, repositoryId, fullPath },
});
const protect = (repositoryId: string, freeSeats: number | null = null): RepositoryCommand => ({
  type: 'ProtectRepository',
  data: { organizationId, repositoryId, freeSeats },
});
const unprotect = (repositoryId: string): RepositoryCommand => ({ type: 'UnprotectRepository', data: { organizationId, repositoryId } });
const fail = (syncId: string, reason = 'GitLab at https://gitlab.example.com did not answer'): RepositoryCommand => ({
  type: 'FailRepositorySync',
  data: { organizationId, syncId, reason, stats },
});

const api = project(101, 'acme/platform/api');
const web = project(102, 'acme/platform/web');
const tools = group(201, 'acme/platform/tools');

/** A list with api (r1) and web (r2) known from a first sync, and sync s1 running. */
const knownList: RepositoryEvent[] = [started('s0'), discovered('r1', api), discovered('r2', web), synced({ added: 2 }, 's0'), started('s1')];

describe('repository list', () => {
  describe('StartRepositorySync', () => {
    it('starts a sync, recording its trigger and when', () => {
      spec
        .given([])
        .when(start('s1'))
        .then([started('s1')]);
      spec
        .given([])
        .when({ type: 'StartRepositorySync', data: { organizationId, syncId: 's1', trigger: 'FIRST', now: '2026-03-01T09:00:00.000Z', staleAfterMs: HOUR } })
        .then([started('s1', '2026-03-01T09:00:00.000Z', 'FIRST')]);
    });

    it('starts another once the last one finished, however it finished', () => {
      spec
        .given([started('s0'), synced({}, 's0')])
        .when(start('s1'))
        .then([started('s1')]);
      spec
        .given([started('s0'), { type: 'RepositoryListSyncFailed', data: { organizationId, syncId: 's0', reason: 'timeout' } }])
        .when(start('s1'))
        .then([started('s1')]);
    });

    it('refuses while a sync is running', () => {
      spec
        .given([started('s0', '2026-03-01T09:30:00.000Z')])
        .when(start('s1'))
        .thenRefuses('SYNC_RUNNING', /sync s0 of this organization is still running/);
    });

    it('refuses while a sync is running right at the stale age', () => {
      spec
        .given([started('s0', '2026-03-01T09:00:00.000Z')])
        .when(start('s1'))
        .thenRefuses('SYNC_RUNNING', /sync s0/);
    });

    it('records a stale running sync as failed, then starts the new one', () => {
      spec
        .given([started('s0', '2026-03-01T08:30:00.000Z')])
        .when(start('s1'))
        .then([
          { type: 'RepositoryListSyncFailed', data: { organizationId, syncId: 's0', reason: 'no result after 90 minutes: the sync was interrupted' } },
          started('s1'),
        ]);
    });

    it('starts on schedule only when no sync started since the one the schedule saw', () => {
      const scheduled = (lastStartedAtSeen: string | null): RepositoryCommand => ({
        type: 'StartRepositorySync',
        data: { organizationId, syncId: 's2', trigger: 'SCHEDULE', now: '2026-03-01T11:00:00.000Z', staleAfterMs: HOUR, lastStartedAtSeen },
      });
      const history = [started('s0', '2026-03-01T08:00:00.000Z'), synced({}, 's0'), started('s1', '2026-03-01T10:00:00.000Z'), synced({}, 's1')];
      spec
        .given(history)
        .when(scheduled('2026-03-01T10:00:00.000Z'))
        .then([{ type: 'RepositoryListSyncStarted', data: { organizationId, syncId: 's2', trigger: 'SCHEDULE', startedAt: '2026-03-01T11:00:00.000Z' } }]);
      spec
        .given(history)
        .when(scheduled('2026-03-01T08:00:00.000Z'))
        .thenRefuses('SYNC_ALREADY_STARTED', /started at 2026-03-01T10:00:00.000Z/);
      spec.given(history).when(scheduled(null)).thenRefuses('SYNC_ALREADY_STARTED');
      spec
        .given([])
        .when(scheduled(null))
        .then([{ type: 'RepositoryListSyncStarted', data: { organizationId, syncId: 's2', trigger: 'SCHEDULE', startedAt: '2026-03-01T11:00:00.000Z' } }]);
    });

    it('lets the new sync complete, and the stale one no longer', () => {
      const history: RepositoryEvent[] = [
        started('s0', '2026-03-01T08:30:00.000Z'),
        { type: 'RepositoryListSyncFailed', data: { organizationId, syncId: 's0', reason: 'interrupted' } },
        started('s1'),
      ];
      spec
        .given(history)
        .when(complete([api]))
        .then([discovered('r1', api), synced({ added: 1 })]);
      spec
        .given(history)
        .when(complete([api], { syncId: 's0' }))
        .thenRefuses('CONFLICT', /sync s0 is not running: another sync took over/);
    });
  });

  describe('CompleteRepositorySync', () => {
    it('discovers every repository of a first listing, with the ids given', () => {
      spec
        .given([started('s1')])
        .when(complete([api, web]))
        .then([discovered('r1', api), discovered('r2', web), synced({ added: 2 })]);
    });

    it('counts repositories GitLab lists as they were as unchanged, writing nothing for them', () => {
      spec
        .given(knownList)
        .when(complete([web, api]))
        .then([synced({ unchanged: 2 })]);
    });

    it('follows a repository by its GitLab id through a rename', () => {
      spec
        .given(knownList)
        .when(complete([project(101, 'acme/platform/api-v2'), web]))
        .then([renamed('r1', 101, 'acme/platform/api', 'acme/platform/api-v2'), synced({ renamed: 1, unchanged: 1 })]);
    });

    it('takes a new GitLab id at a known path for a new repository, and the old one as removed', () => {
      const recreated = project(103, 'acme/platform/api');
      spec
        .given(knownList)
        .when(complete([recreated, web], { newIds: ['r3'] }))
        .then([discovered('r3', recreated), removedFromSource('r1', api), synced({ added: 1, removed: 1, unchanged: 1 })]);
    });

    it('removes repositories GitLab no longer lists', () => {
      spec
        .given(knownList)
        .when(complete([web]))
        .then([removedFromSource('r1', api), synced({ removed: 1, unchanged: 1 })]);
    });

    it('does all at once: discovered, renamed, removed and unchanged', () => {
      const docs = project(104, 'acme/platform/docs');
      spec
        .given([...knownList.slice(0, 4), discovered('r3', project(105, 'acme/platform/old')), started('s1')])
        .when(complete([docs, project(102, 'acme/platform/web-app'), api], { newIds: ['r9'] }))
        .then([
          discovered('r9', docs),
          renamed('r2', 102, 'acme/platform/web', 'acme/platform/web-app'),
          removedFromSource('r3', project(105, 'acme/platform/old')),
          synced({ added: 1, renamed: 1, removed: 1, unchanged: 1 }),
        ]);
    });

    it('reads an object listed twice (GitLab pages shifting under the listing) once', () => {
      spec
        .given([started('s1')])
        .when(complete([api, api, web]))
        .then([discovered('r1', api), discovered('r2', web), synced({ added: 2 })]);
    });

    it('keeps a project and a group with the same GitLab id apart', () => {
      const sameIdGroup = group(101, 'acme/platform/api-group');
      spec
        .given(knownList)
        .when(complete([api, web, sameIdGroup], { newIds: ['r3'] }))
        .then([discovered('r3', sameIdGroup), protectedEvent('r3', true), synced({ added: 1, unchanged: 2 })]);
    });

    it('leaves objects of a kind the listing does not cover as they are', () => {
      const history: RepositoryEvent[] = [
        started('s0'),
        discovered('r1', api),
        discovered('r3', tools),
        protectedEvent('r3', true),
        synced({ added: 2 }, 's0'),
        started('s1'),
      ];
      spec
        .given(history)
        .when(complete([api], { kinds: ['PROJECT'] }))
        .then([synced({ unchanged: 1 })]);
      spec
        .given(history)
        .when(complete([api], { kinds: ['PROJECT', 'GROUP'] }))
        .then([removedFromSource('r3', tools), synced({ removed: 1, unchanged: 1 })]);
    });

    it('refuses a sync that is not the one running', () => {
      spec
        .given([])
        .when(complete([api]))
        .thenRefuses('CONFLICT', /sync s1 is not running/);
      spec
        .given([started('s2')])
        .when(complete([api]))
        .thenRefuses('CONFLICT', /sync s1 is not running/);
      spec
        .given([started('s1'), synced({}, 's1')])
        .when(complete([api]))
        .thenRefuses('CONFLICT', /sync s1 is not running/);
    });

    it('refuses when there are fewer ids than new repositories', () => {
      spec
        .given([started('s1')])
        .when(complete([api, web], { newIds: ['r1'] }))
        .thenRefuses('INVALID_INPUT', /not enough ids/);
    });

    describe('a repository that comes back', () => {
      const gone: RepositoryEvent[] = [
        started('s0'),
        discovered('r1', api),
        removedFromSource('r1', api),
        synced({ added: 1, removed: 1 }, 's0'),
        started('s1'),
      ];

      it('keeps its id, under the path it comes back with', () => {
        const moved = project(101, 'acme/platform/api-restored');
        spec
          .given(gone)
          .when(complete([moved]))
          .then([discovered('r1', moved), synced({ added: 1 })]);
      });

      it('keeps its protection while a seat is free: gone, it freed its seat, back, it takes one again', () => {
        const history = [...gone.slice(0, 2), protectedEvent('r1', false), ...gone.slice(2)];
        spec
          .given(history)
          .when(complete([api], { freeSeats: 1 }))
          .then([discovered('r1', api), synced({ added: 1 })]);
        spec
          .given(history)
          .when(complete([api], { freeSeats: null }))
          .then([discovered('r1', api), synced({ added: 1 })]);
        // The seat it takes is not there for a new repository of the same listing.
        spec
          .given(history)
          .when(complete([api, web], { autoAddNewRepositories: true, freeSeats: 1, newIds: ['r2'] }))
          .then([discovered('r1', api), discovered('r2', web), seatLimitReached('r2', web.fullPath), synced({ added: 2 })]);
      });

      it('loses its protection when its seat was taken meanwhile, and says the limit was reached', () => {
        const history = [...gone.slice(0, 2), protectedEvent('r1', false), ...gone.slice(2)];
        spec
          .given(history)
          .when(complete([api], { freeSeats: 0 }))
          .then([discovered('r1', api), unprotectedEvent('r1'), seatLimitReached('r1', api.fullPath), synced({ added: 1 })]);
      });

      it('is protected by auto-add like a new one when it was not protected', () => {
        spec
          .given(gone)
          .when(complete([api], { autoAddNewRepositories: true, freeSeats: 1 }))
          .then([discovered('r1', api), protectedEvent('r1', true), synced({ added: 1 })]);
      });

      it('is not removed a second time while it stays away', () => {
        spec
          .given(gone)
          .when(complete([]))
          .then([synced({})]);
      });
    });

    describe('protection of what is discovered', () => {
      it('protects nothing without auto-add, but groups', () => {
        spec
          .given([started('s1')])
          .when(complete([api, tools]))
          .then([discovered('r1', api), discovered('r2', tools), protectedEvent('r2', true), synced({ added: 2 })]);
      });

      it('protects every new repository with auto-add and no seat limit', () => {
        spec
          .given([started('s1')])
          .when(complete([api, web], { autoAddNewRepositories: true }))
          .then([discovered('r1', api), protectedEvent('r1', true), discovered('r2', web), protectedEvent('r2', true), synced({ added: 2 })]);
      });

      it('protects new repositories while seats last, then records that the limit was reached for each of the rest', () => {
        const docs = project(104, 'acme/platform/docs');
        spec
          .given([started('s1')])
          .when(complete([api, web, docs], { autoAddNewRepositories: true, freeSeats: 1 }))
          .then([
            discovered('r1', api),
            protectedEvent('r1', true),
            discovered('r2', web),
            seatLimitReached('r2', web.fullPath),
            discovered('r3', docs),
            seatLimitReached('r3', docs.fullPath),
            synced({ added: 3 }),
          ]);
      });

      it('protects groups even with no free seat: they take none', () => {
        spec
          .given([started('s1')])
          .when(complete([tools, api], { autoAddNewRepositories: true, freeSeats: 0 }))
          .then([discovered('r1', tools), protectedEvent('r1', true), discovered('r2', api), seatLimitReached('r2', api.fullPath), synced({ added: 2 })]);
      });

      it('leaves the protection of known repositories as it is', () => {
        spec
          .given(knownList)
          .when(complete([api, web], { autoAddNewRepositories: true, freeSeats: 5 }))
          .then([synced({ unchanged: 2 })]);
      });
    });
  });

  describe('FailRepositorySync', () => {
    it('records why the listing failed, and removes nothing', () => {
      spec
        .given(knownList)
        .when(fail('s1'))
        .then([
          { type: 'RepositoryListSyncFailed', data: { organizationId, syncId: 's1', reason: 'GitLab at https://gitlab.example.com did not answer', ...stats } },
        ]);
    });

    it('lets the next sync start, and a later listing still sees what the failed one did not', () => {
      const failed: RepositoryEvent = { type: 'RepositoryListSyncFailed', data: { organizationId, syncId: 's1', reason: 'timeout' } };
      spec
        .given([...knownList, failed])
        .when(start('s2'))
        .then([started('s2')]);
      spec
        .given([...knownList, failed, started('s2')])
        .when(complete([api, web], { syncId: 's2' }))
        .then([synced({ unchanged: 2 }, 's2')]);
    });

    it('refuses a sync that is not the one running', () => {
      spec
        .given(knownList)
        .when(fail('s0'))
        .thenRefuses('CONFLICT', /sync s0 is not running/);
    });
  });

  describe('ProtectRepository', () => {
    it('protects a repository while a seat is free, or with no limit', () => {
      spec
        .given(knownList)
        .when(protect('r1', 1))
        .then([protectedEvent('r1', false)]);
      spec
        .given(knownList)
        .when(protect('r1', null))
        .then([protectedEvent('r1', false)]);
    });

    it('refuses a repository when every seat is in use', () => {
      spec
        .given(knownList)
        .when(protect('r1', 0))
        .thenRefuses('LICENSE_SEATS_EXHAUSTED', /every license seat is in use: unprotect a repository or raise the limit with setLicenseSeats/);
    });

    it('protects a group with no free seat: it takes none', () => {
      spec
        .given([started('s0'), discovered('r3', tools), unprotectedEvent('r3')])
        .when(protect('r3', 0))
        .then([protectedEvent('r3', false)]);
    });

    it('writes nothing for a repository already protected, even with no free seat', () => {
      spec
        .given([...knownList, protectedEvent('r1', true)])
        .when(protect('r1', 0))
        .then([]);
    });

    it('refuses a repository GitLab removed', () => {
      spec
        .given([...knownList, removedFromSource('r1', api)])
        .when(protect('r1', 3))
        .thenRefuses('CONFLICT', /repository acme\/platform\/api was removed from GitLab/);
    });

    it('refuses a repository it does not know', () => {
      spec
        .given(knownList)
        .when(protect('r9', 3))
        .thenRefuses('NOT_FOUND', /no repository r9/);
    });
  });

  describe('UnprotectRepository', () => {
    it('unprotects a protected repository', () => {
      spec
        .given([...knownList, protectedEvent('r1', true)])
        .when(unprotect('r1'))
        .then([unprotectedEvent('r1')]);
    });

    it('writes nothing for a repository that is not protected', () => {
      spec.given(knownList).when(unprotect('r1')).then([]);
      spec
        .given([...knownList, protectedEvent('r1', false), unprotectedEvent('r1')])
        .when(unprotect('r1'))
        .then([]);
    });

    // Its seat is freed: a repository gone from GitLab should not hold one.
    it('unprotects a repository GitLab removed', () => {
      spec
        .given([...knownList, protectedEvent('r1', false), removedFromSource('r1', api)])
        .when(unprotect('r1'))
        .then([unprotectedEvent('r1')]);
    });

    it('refuses a repository it does not know', () => {
      spec
        .given(knownList)
        .when(unprotect('r9'))
        .thenRefuses('NOT_FOUND', /no repository r9/);
    });
  });
});
