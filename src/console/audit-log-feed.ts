import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, socket } from './api';
import { filterFromQuery, filterInput } from './audit-filter';
import { docs, type AuditEvent, type Connection } from './documents';
import { useSession } from './session';

export type LiveState = 'waiting' | 'live' | 'reconnecting' | 'stopped';

export interface AuditLogFeed {
  events: AuditEvent[];
  hasNextPage: boolean;
  loading: boolean;
  error: unknown;
  live: LiveState;
  loadMore(): void;
}

/** Given up on after this wait between attempts grows past it; the page says live updates stopped. */
const MAX_RETRY_MS = 30_000;
/** The wait before reading the newest page again while the history has read none of the log yet. */
const UNREAD_HISTORY_MS = 1_000;

/**
 * The tenant's history matching a filter (the hash's query), in log order: a page at a time, then,
 * once the newest page is read, every new matching event over `auditEvents`, resumed after the
 * last cursor received. Events are kept once each by id, so a socket that reconnects and sends
 * again what was already shown repeats nothing, and resuming from the last cursor skips nothing.
 */
export function useAuditLogFeed(query: string): AuditLogFeed {
  const session = useSession();
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [hasNextPage, setHasNextPage] = useState(false);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState<LiveState>('waiting');
  // The generation whose newest page has been read: from then on the socket brings the rest.
  const [endOf, setEndOf] = useState(-1);
  // The last cursor read (page or socket) and the ids shown, for the filter of this generation.
  const cursor = useRef<string | null>(null);
  // Where the feed starts while no event has been read: the history's reach as the newest page was read.
  const liveFrom = useRef<string | null>(null);
  const seen = useRef(new Set<string>());
  const generation = useRef(0);

  const add = useCallback((found: AuditEvent[], of: number) => {
    if (of !== generation.current || found.length === 0) return;
    const fresh = found.filter((event) => !seen.current.has(event.id));
    for (const event of fresh) seen.current.add(event.id);
    cursor.current = found.at(-1)!.cursor;
    if (fresh.length > 0) setEvents((shown) => [...shown, ...fresh]);
  }, []);

  const loadPage = useCallback(
    async (of: number) => {
      // A read asked for by a page since closed, or by a filter since changed (a retry's timer), is not made.
      if (of !== generation.current) return;
      setLoading(true);
      try {
        const { auditLog } = await session.call<{ auditLog: Connection<AuditEvent> }>(docs.auditLog, {
          filter: filterInput(filterFromQuery(query)),
          after: cursor.current,
        });
        if (of !== generation.current) return;
        add(
          auditLog.edges.map((edge) => edge.node),
          of,
        );
        cursor.current = auditLog.pageInfo.endCursor ?? cursor.current;
        setHasNextPage(auditLog.pageInfo.hasNextPage);
        setError(null);
        liveFrom.current = auditLog.pageInfo.liveCursor ?? liveFrom.current;
        if (auditLog.pageInfo.hasNextPage) return;
        // A feed from the log's end would miss what was recorded since the read: it waits for a place to start from.
        if (cursor.current === null && liveFrom.current === null) setTimeout(() => void loadPage(of), UNREAD_HISTORY_MS);
        else setEndOf(of);
      } catch (failure) {
        if (of === generation.current) setError(failure);
      } finally {
        if (of === generation.current) setLoading(false);
      }
    },
    [session, query, add],
  );

  useEffect(() => {
    const of = ++generation.current;
    cursor.current = null;
    liveFrom.current = null;
    seen.current = new Set();
    setEvents([]);
    setHasNextPage(false);
    setLive('waiting');
    void loadPage(of);
    return () => {
      // Whatever this generation still has under way or on a timer stops here.
      if (generation.current === of) generation.current += 1;
    };
  }, [loadPage]);

  useEffect(() => {
    const of = generation.current;
    if (endOf !== of) return;
    // No retries of its own: they would subscribe again from the cursor first given, not the last received.
    const client = socket(session.token, 0);
    let stopped = false;
    let unsubscribe = () => {};
    let retry: ReturnType<typeof setTimeout> | undefined;
    let attempts = 0;
    const again = (failure: unknown) => {
      unsubscribe();
      if (stopped) return;
      const wait = 1_000 * 2 ** attempts++;
      // A refusal of the subscription itself (not the connection, not a slow reader) will not change by asking again.
      const refused = failure instanceof ApiError && failure.code !== 'SUBSCRIPTION_TOO_SLOW';
      if (refused || wait > MAX_RETRY_MS) {
        setLive('stopped');
        if (refused) setError(failure);
        return;
      }
      setLive('reconnecting');
      retry = setTimeout(listen, wait);
    };
    const listen = () => {
      if (stopped) return;
      setLive('live');
      unsubscribe = client.subscribe<{ auditEvents: AuditEvent }>(
        // From the last cursor received: what came meanwhile arrives first, nothing is skipped.
        { query: docs.auditEvents, variables: { filter: filterInput(filterFromQuery(query)), after: cursor.current ?? liveFrom.current } },
        {
          next: (result) => {
            const problem = result.errors?.[0];
            if (problem) return again(new ApiError(problem.message, String(problem.extensions?.code ?? 'INTERNAL_SERVER_ERROR')));
            if (result.data?.auditEvents) {
              attempts = 0;
              setLive('live');
              add([result.data.auditEvents], of);
            }
          },
          error: (failure) => {
            const problem = Array.isArray(failure) ? (failure[0] as { message: string; extensions?: { code?: string } } | undefined) : undefined;
            again(problem ? new ApiError(problem.message, problem.extensions?.code ?? 'INTERNAL_SERVER_ERROR') : failure);
          },
          complete: () => undefined,
        },
      );
    };
    listen();
    return () => {
      stopped = true;
      clearTimeout(retry);
      unsubscribe();
      void client.dispose();
    };
  }, [endOf, session, query, add]);

  const loadMore = useCallback(() => void loadPage(generation.current), [loadPage]);
  return { events, hasNextPage, loading, error, live, loadMore };
}
