import { createContext, useCallback, useContext, useEffect, useState } from 'react';
import { mayAudit, mayEdit, request, type Principal } from './api';

export interface Session {
  token: string;
  me: Principal;
  canEdit: boolean;
  canAudit: boolean;
  /** A request with this session's token. */
  call<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in console');
  return session;
}

export function makeSession(token: string, me: Principal): Session {
  return {
    token,
    me,
    canEdit: mayEdit(me.role),
    canAudit: mayAudit(me.role),
    call: (query, variables) => request(token, query, variables),
  };
}

/** The current location's hash route ("#/plans/abc" → ["plans", "abc"]): no token or secret ever goes in it. */
function readRoute(): string[] {
  return location.hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter(Boolean)
    .map((part) => decodeURIComponent(part));
}

export function useRoute(): string[] {
  const [route, setRoute] = useState(readRoute);
  useEffect(() => {
    const changed = () => setRoute(readRoute());
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return route;
}

export function go(...parts: string[]): void {
  location.hash = `#/${parts.map(encodeURIComponent).join('/')}`;
}

/** Data loaded with the session's token, reloaded on demand; nothing is asked while `skip` (one the role may not read). */
export function useQuery<T>(
  query: string,
  variables?: Record<string, unknown>,
  { skip = false }: { skip?: boolean } = {},
): { data?: T; error?: unknown; loading: boolean; reload(): Promise<void> } {
  const session = useSession();
  const key = JSON.stringify(variables ?? {});
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: !skip });
  // biome-ignore lint/correctness/useExhaustiveDependencies: the variables are compared by their JSON (key).
  const reload = useCallback(async () => {
    if (skip) return;
    try {
      const data = await session.call<T>(query, variables);
      setState({ data, loading: false });
    } catch (error) {
      setState((previous) => ({ data: previous.data, error, loading: false }));
    }
  }, [session, query, key, skip]);
  useEffect(() => {
    setState({ loading: !skip });
    void reload();
  }, [reload, skip]);
  return { ...state, reload };
}
