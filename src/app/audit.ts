import type { EventStore, RecordedEvent } from '../eventstore/types';
import { type EventToCheck, type VerifyResult, verifyLog } from '../eventstore/verify';
import { type AuditQuery, auditPage } from '../queries/audit';
import { auditEventOf, matchesAudit } from '../queries/audit-events';
import { streamHeadsOf, type TenantEventsPage, tenantEventsPage } from '../queries/audit-verify';
import type { AuditEventView } from '../queries/views';
import { KeyedMutex } from '../sql/keyed-mutex';
import { logInDatabase, type AppDeps, type Request } from './deps';
import { checkTenantDigests } from './audit-digests-check';
import { eventFeed, type FeedEndedError } from './event-feed';
import { stillAllowed } from './live-access';
import type { Principal } from './principal';

export interface AuditVerificationView {
  ok: boolean;
  checked: number;
  firstBrokenCursor: string | null;
  problem: string | null;
  /** Stored digests whose signature, chain link and signed heads were checked. */
  digestsChecked: number;
  /** The periodEnd of the first digest that fails, or that the log no longer matches. */
  firstBrokenDigest: string | null;
}

export interface PlanCredentialToggleView {
  cursor: string;
  planId: string;
  credentialId: string;
  enabled: boolean;
  actor: AuditEventView['actor'];
  occurredAt: Date;
}

/** Per store: the walks under way, by tenant, and the turns walks take (one at a time in this process). */
const walking = new WeakMap<EventStore, { walks: Map<string, Promise<AuditVerificationView>>; turns: KeyedMutex }>();

/**
 * Recomputes the hash chains of the tenant's events and reports the first that is not what was
 * written. A request that comes while a walk of the tenant's log is under way joins it rather than
 * starting another: it hears of the log as far as that walk reads, to the end as it then stands.
 */
export function verifyAuditLog(deps: AppDeps, request: Request): Promise<AuditVerificationView> {
  const tenantId = request.principal.tenantId;
  let state = walking.get(deps.store);
  if (!state) {
    state = { walks: new Map(), turns: new KeyedMutex() };
    walking.set(deps.store, state);
  }
  const { walks, turns } = state;
  const joined = walks.get(tenantId);
  if (joined) return joined;
  // Walks of several tenants take turns: each reads ahead on connections of the pool that every
  // command and read model shares, and a verification is no reason to keep them waiting.
  const walk = turns.run('walk', () => walkLog(deps, tenantId)).finally(() => walks.delete(tenantId));
  walks.set(tenantId, walk);
  return walk;
}

async function walkLog(deps: AppDeps, tenantId: string): Promise<AuditVerificationView> {
  // The log as far as readers can read it, whatever the audit history has read: a change answered
  // before was readable when it was answered, and is checked too.
  // The tenant's own events only: what other tenants write is neither counted nor named here.
  const select = (event: RecordedEvent) => event.metadata.tenantId === tenantId;
  // Where the log is this database's events table, its index of each tenant's events finds them.
  let result = logInDatabase(deps) ? await walkTenantEvents(deps, tenantId) : null;
  // Anything amiss is judged by the walk of the whole log, every event of it read in order.
  if (result === null || result.problem) result = await verifyLog(deps.store, { select });
  // The digests too: a stream rewritten with its chain recomputed passes the walk, not them.
  const digests = await checkTenantDigests(deps, tenantId);
  const found = { checked: result.eventsChecked, digestsChecked: digests.digestsChecked, firstBrokenDigest: digests.firstBrokenDigest };
  if (result.problem) return { ok: false, ...found, firstBrokenCursor: result.problem.position ?? null, problem: result.problem.message };
  if (digests.problem) return { ok: false, ...found, firstBrokenCursor: digests.brokenCursor, problem: digests.problem };
  return { ok: true, ...found, firstBrokenCursor: null, problem: null };
}

/**
 * A page of the tenant's history as auditLog shows it, from the audit history's rows; where the log
 * is this database's events table, the data the rows do not copy is read from it.
 */
export function historyPage(
  deps: Pick<AppDeps, 'store' | 'db'>,
  tenantId: string,
  query: AuditQuery,
  page: { first: number; after?: string },
): ReturnType<typeof auditPage> {
  return auditPage(deps.db, tenantId, query, page, logInDatabase(deps));
}

/** Events read at once from the log. */
const TENANT_PAGE = 1000;

/**
 * The walk of the tenant's events alone, read from the log by its index of each tenant's events
 * in log order, `pageSize` events at a time: each page is asked for as soon as the one before it
 * has come, and read while that one is hashed (one connection of the pool at a time).
 */
export async function walkTenantEvents(deps: Pick<AppDeps, 'store' | 'db'>, tenantId: string, pageSize = TENANT_PAGE): Promise<VerifyResult> {
  async function* pages(): AsyncGenerator<EventToCheck[]> {
    let next: Promise<TenantEventsPage> | null = tenantEventsPage(deps.db, tenantId, null, pageSize);
    while (next) {
      const page: TenantEventsPage = await next;
      next = page.next === null ? null : tenantEventsPage(deps.db, tenantId, page.next, pageSize);
      // A walk that stops at a problem leaves that read behind: its failure is nobody's.
      next?.catch(() => undefined);
      yield page.events;
    }
  }
  return verifyLog(deps.store, { source: pages(), heads: (streams) => streamHeadsOf(deps.db, streams) });
}

/** The later of two cursors (places in the log), either of which may be missing. */
export function laterCursor(deps: Pick<AppDeps, 'store'>, a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return deps.store.comparePositions(a, b) >= 0 ? a : b;
}

/** Whether the store would take `after` as a place in its log. */
export function isCursor(deps: AppDeps, after: string): boolean {
  try {
    deps.store.comparePositions(after, after);
    return true;
  } catch {
    return false;
  }
}

/**
 * The tail hands the same event to every feed: each view is made once per event, not once per
 * listener (views are read, never changed).
 */
const views = new WeakMap<RecordedEvent, AuditEventView>();
const toggleViews = new WeakMap<RecordedEvent, PlanCredentialToggleView>();

function viewOf(event: RecordedEvent): AuditEventView {
  let view = views.get(event);
  if (!view) {
    view = auditEventOf(event);
    views.set(event, view);
  }
  return view;
}

function toggleViewOf(event: RecordedEvent): PlanCredentialToggleView {
  let toggle = toggleViews.get(event);
  if (!toggle) {
    const view = viewOf(event);
    const data = view.data as { planId: string; credentialId: string; enabled: boolean };
    toggle = {
      cursor: view.cursor,
      planId: data.planId,
      credentialId: data.credentialId,
      enabled: data.enabled,
      actor: view.actor,
      occurredAt: view.occurredAt,
    };
    toggleViews.set(event, toggle);
  }
  return toggle;
}

/** The tenant's history as it happens, from after `after` (the cursor of the last event seen, see isCursor) or from now. */
export function auditFeed(deps: AppDeps, request: Request, filter: AuditQuery, after: string | null): AsyncIterableIterator<AuditEventView | FeedEndedError> {
  const tenantId = request.principal.tenantId;
  const from = after ?? 'end';
  return eventFeed(deps.store, { from, allowed: stillAllowed(deps, request.principal), who: whoOf(request.principal) }, (event) =>
    matchesAudit(event, tenantId, filter) ? viewOf(event) : null,
  );
}

/** The token a feed's reader holds: feeds of one token share the check that it is still allowed. */
export function whoOf(principal: Principal): string {
  return `${principal.tenantId}/${principal.tokenId}`;
}

/** Credentials switched on or off on the tenant's plans (one plan when given), from now on. */
export function planCredentialToggles(
  deps: AppDeps,
  request: Request,
  planId: string | null,
): AsyncIterableIterator<PlanCredentialToggleView | FeedEndedError> {
  const tenantId = request.principal.tenantId;
  const filter = { eventTypes: ['PlanCredentialToggled'] };
  return eventFeed(deps.store, { from: 'end', filter, allowed: stillAllowed(deps, request.principal), who: whoOf(request.principal) }, (event) => {
    return matchesAudit(event, tenantId, { planId: planId ?? undefined }) ? toggleViewOf(event) : null;
  });
}
