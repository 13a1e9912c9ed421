import { randomUUID } from 'node:crypto';
import type { HandleResult } from '../core/command-handler';
import { readState } from '../core/read-state';
import { ConcurrencyError, DomainError } from '../core/errors';
import { messageOf } from '../errors';
import { mainLogin } from '../domain/organization';
import {
  repositoryList,
  repositoryListStream,
  type ListedRepository,
  type RepositoryCommand,
  type RepositoryEvent,
  type RepositoryKind,
  type RepositoryListState,
  type SyncStats,
  type SyncTrigger,
} from '../domain/repository';
import { tenant, tenantStream, type TenantCommand } from '../domain/tenant';
import type { Page } from '../gitlab/types';
import { organizationById } from '../queries/organizations';
import { freeSeats, licenseSeats, repositoryById, syncById, type RepositorySyncView, type RepositoryView } from '../queries/repositories';
import type { OrganizationView } from '../queries/views';
import { execute, type AppDeps, type Request } from './deps';
import { found } from './found';
import { executeLocked } from './locked-command';
import type { GitLabSession } from './gitlab-port';
import type { JobOutcome } from './jobs';
import { systemPrincipal } from './principal';
import { sessionFor } from './verification';

/** syncRepositories: starts a sync and answers at once; a sync already running is the answer instead. */
export async function syncRepositories(deps: AppDeps, request: Request, organizationId: string): Promise<RepositorySyncView> {
  const organization = found(await organizationById(deps.db, request.principal.tenantId, organizationId), 'organization', organizationId);
  mainLogin(organization);
  const syncId = await startSync(deps, request, organization, 'MANUAL');
  return found(await syncById(deps.db, request.principal.tenantId, syncId), 'sync', syncId);
}

/**
 * A new (or newly authorized) organization's repositories are listed at once, not at the first
 * time of its schedule. The start is a job of its own: the organization stands whatever becomes
 * of it, a failure is logged rather than left unhandled, and a stop waiting for the jobs waits
 * for it too. Should the schedule have started one first, that one serves.
 */
export function startFirstSync(deps: AppDeps, request: Request, organization: OrganizationView): void {
  deps.jobs.start(`first sync of ${organization.id}`, async () => {
    await startSync(deps, request, organization, 'FIRST', { lastStartedAtSeen: null });
  });
}

/**
 * Records the start (refused while another sync of the organization runs, in any process) and
 * lists the group in the background. Returns the id of the sync that runs now.
 */
export async function startSync(
  deps: AppDeps,
  request: Request,
  organization: OrganizationView,
  trigger: SyncTrigger,
  schedule: { now?: Date; lastStartedAtSeen?: Date | null } = {},
): Promise<string> {
  const now = schedule.now ?? new Date();
  const lastStartedAtSeen = schedule.lastStartedAtSeen === undefined ? undefined : (schedule.lastStartedAtSeen?.toISOString() ?? null);
  const { tenantId } = request.principal;
  const syncId = randomUUID();
  const stream = repositoryListStream(organization.id);
  let start: HandleResult<RepositoryListState, RepositoryEvent>;
  try {
    start = await execute(deps, request, repositoryList, stream, {
      type: 'StartRepositorySync',
      data: { organizationId: organization.id, syncId, trigger, now: now.toISOString(), staleAfterMs: deps.work.syncStaleAfterMs, lastStartedAtSeen },
    });
  } catch (error) {
    if (!(error instanceof DomainError && (error.code === 'SYNC_RUNNING' || error.code === 'SYNC_ALREADY_STARTED'))) throw error;
    // The sync that runs (or that served the slot) as its stream has it: the read models may not show its start yet.
    const { state, position } = await readState(deps.store, repositoryList, stream, tenantId);
    const answer = error.code === 'SYNC_RUNNING' ? state.running?.syncId : state.lastSyncId;
    if (!answer) throw new ConcurrencyError('a sync of this organization just ended: try again');
    await deps.settle(position!, [stream]);
    return answer;
  }
  // What the sync finds is recorded by Backplane itself, as a consequence of the start.
  const recorder = { principal: systemPrincipal(tenantId), correlationId: request.correlationId };
  const causationId = start.eventIds.at(-1)!;
  if (deps.jobs.signal.aborted) {
    // The service is stopping: no job will run it, and a sync left running would hold the next one off.
    await execute(
      deps,
      recorder,
      repositoryList,
      stream,
      { type: 'FailRepositorySync', data: { organizationId: organization.id, syncId, reason: 'the service stopped before the sync ran' } },
      { causationId },
    );
  } else deps.jobs.start(`sync ${syncId}`, (signal) => runSync(deps, recorder, causationId, organization, syncId, signal), 'repository_sync');
  return syncId;
}

async function runSync(
  deps: AppDeps,
  request: Request,
  causationId: string,
  organization: OrganizationView,
  syncId: string,
  signal: AbortSignal,
): Promise<JobOutcome> {
  const { tenantId } = request.principal;
  const stream = repositoryListStream(organization.id);
  const started = Date.now();
  let main: GitLabSession | undefined;
  const stats = (): SyncStats => ({
    durationMs: Date.now() - started,
    requests: main?.requests ?? 0,
    credentialsUsed: main ? [{ credentialId: null, login: organization.login ?? '', requests: main.requests }] : [],
  });
  let listing: ListedRepository[];
  const kinds: RepositoryKind[] = organization.protectGroups ? ['PROJECT', 'GROUP'] : ['PROJECT'];
  try {
    if (organization.gitlabGroupId === null) throw new Error('the group was never found on GitLab: verify the organization');
    // A sync reads as the organization's main login: additional credentials belong to plans.
    const { passwordId } = mainLogin(organization);
    main = await sessionFor(
      deps,
      { tenantId, gitlabUrl: organization.gitlabUrl, passwordId, authMethod: organization.authMethod, login: organization.login },
      { rateLimit: 'wait', signal },
    );
    listing = await listGroup(main, organization.gitlabGroupId, kinds, signal);
  } catch (error) {
    await execute(
      deps,
      request,
      repositoryList,
      stream,
      {
        type: 'FailRepositorySync',
        data: { organizationId: organization.id, syncId, reason: `the repository list could not be read: ${messageOf(error)}`, stats: stats() },
      },
      { causationId },
    );
    return signal.aborted ? 'stopped' : 'failed';
  }
  // Seats are counted across the tenant's organizations: one sync at a time per tenant decides.
  const complete = async (): Promise<RepositoryCommand> => ({
    type: 'CompleteRepositorySync',
    data: {
      organizationId: organization.id,
      syncId,
      listing,
      kinds,
      newIds: listing.map(() => randomUUID()),
      autoAddNewRepositories: (await organizationById(deps.db, tenantId, organization.id))?.autoAddNewRepositories ?? organization.autoAddNewRepositories,
      freeSeats: await freeSeats(deps.db, tenantId),
      stats: stats(),
    },
  });
  await executeLocked(deps, request, repositoryList, stream, complete, { causationId });
  return 'completed';
}

/** Every project of the group and its subgroups (and the subgroups themselves when asked), all pages. */
async function listGroup(session: GitLabSession, groupId: number, kinds: RepositoryKind[], signal: AbortSignal): Promise<ListedRepository[]> {
  const projects = await allPages(signal, (page) => session.groupProjectsPage(groupId, page));
  const groups = kinds.includes('GROUP') ? await allPages(signal, (page) => session.descendantGroupsPage(groupId, page)) : [];
  return [
    ...projects.map((project) => ({ gitlabId: project.id, kind: 'PROJECT' as const, fullPath: project.fullPath })),
    ...groups.map((group) => ({ gitlabId: group.id, kind: 'GROUP' as const, fullPath: group.fullPath })),
  ];
}

async function allPages<T>(signal: AbortSignal, read: (page: number) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  for (let page: number | null = 1; page !== null; ) {
    if (signal.aborted) throw new Error('the service stopped during the listing');
    const result: Page<T> = await read(page);
    items.push(...result.items);
    page = result.nextPage;
  }
  return items;
}

/** protectRepository / unprotectRepository: by hand, counting license seats. */
export async function setRepositoryProtection(deps: AppDeps, request: Request, id: string, protect: boolean): Promise<RepositoryView> {
  const { tenantId } = request.principal;
  const repository = found(await repositoryById(deps.db, tenantId, id), 'repository', id);
  found(await organizationById(deps.db, tenantId, repository.organizationId), 'repository', id);
  const ref = { organizationId: repository.organizationId, repositoryId: id };
  await executeLocked(
    deps,
    request,
    repositoryList,
    repositoryListStream(repository.organizationId),
    async (): Promise<RepositoryCommand> =>
      protect ? { type: 'ProtectRepository', data: { ...ref, freeSeats: await freeSeats(deps.db, tenantId) } } : { type: 'UnprotectRepository', data: ref },
  );
  return found(await repositoryById(deps.db, tenantId, id), 'repository', id);
}

/** setLicenseSeats: how many projects the tenant may protect at once. */
export async function setLicenseSeats(deps: AppDeps, request: Request, count: number): Promise<{ limit: number | null; used: number }> {
  const { tenantId } = request.principal;
  await executeLocked(
    deps,
    request,
    tenant,
    tenantStream(tenantId),
    async (): Promise<TenantCommand> => ({
      type: 'SetLicenseSeats',
      data: { count, known: { seatsUsed: (await licenseSeats(deps.db, tenantId)).used } },
    }),
  );
  return licenseSeats(deps.db, tenantId);
}
