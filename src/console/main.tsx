import './styles.css';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiError, forgetToken, request, savedToken, saveToken, type Principal } from './api';
import { AuditArea } from './audit-area';
import { docs } from './documents';
import { Alert } from './forms';
import { OrganizationsPage } from './organizations';
import { PlansPage } from './plans';
import { makeSession, SessionContext, useRoute, useSession, type Session } from './session';

function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [message, setMessage] = useState('');
  const [checking, setChecking] = useState(() => savedToken() !== null);

  /** The token must answer `me` before anything else is shown: the principal's role decides the pages. */
  async function signIn(token: string) {
    setChecking(true);
    try {
      const { me } = await request<{ me: Principal }>(token, docs.me);
      saveToken(token);
      setMessage('');
      setSession(makeSession(token, me));
    } catch (error) {
      forgetToken();
      setMessage(error instanceof ApiError ? error.message : 'Backplane did not answer; try again.');
    } finally {
      setChecking(false);
    }
  }

  // biome-ignore lint/correctness/useExhaustiveDependencies: once, at load, with the tab's saved token.
  useEffect(() => {
    const token = savedToken();
    if (token) void signIn(token);
  }, []);

  useEffect(() => {
    // The moment the console answers input, for the bench's performance timing.
    if (!checking) performance.mark('console-interactive');
  }, [checking]);

  if (!session) return <SignIn onSignIn={signIn} message={message} busy={checking} />;
  return (
    <SessionContext.Provider value={session}>
      <Shell
        onSignOut={() => {
          forgetToken();
          setSession(null);
          location.hash = '';
        }}
      />
    </SessionContext.Provider>
  );
}

function SignIn({ onSignIn, message, busy }: { onSignIn(token: string): void; message: string; busy: boolean }) {
  const [token, setToken] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  function submit(event: FormEvent) {
    event.preventDefault();
    const value = token.trim();
    setToken('');
    if (value) onSignIn(value);
  }
  return (
    <main className="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Backplane</h1>
        <label htmlFor="signin-token">API token</label>
        <input
          id="signin-token"
          ref={input}
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={token}
          onChange={(event) => setToken(event.target.value)}
          aria-describedby="signin-hint"
        />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <Alert>{message}</Alert>
        <p className="hint" id="signin-hint">
          Paste an API token. It is kept in this tab only, until you sign out or close it.
        </p>
      </form>
    </main>
  );
}

function Shell({ onSignOut }: { onSignOut(): void }) {
  const route = useRoute();
  const session = useSession();
  const pages = [
    { path: 'organizations', label: 'Organizations' },
    { path: 'plans', label: 'Plans' },
    ...(session.canAudit ? [{ path: 'audit', label: 'Audit' }] : []),
  ];
  const current = pages.find((page) => page.path === route[0]) ?? pages[0]!;
  // A page the role may not see (a shared link to the event log, say) falls back to the first page itself, not to one of its items.
  const rest = current.path === route[0] ? route.slice(1) : [];
  const heading = useRef<HTMLDivElement>(null);
  // A new page takes the focus, so that keyboard and screen reader users land on it.
  // The event log's filters (after "?") change the view, not the page: the focus stays on the filters.
  const page = route.join('/').split('?')[0];
  // biome-ignore lint/correctness/useExhaustiveDependencies: on each change of page.
  useEffect(() => heading.current?.focus(), [page]);
  return (
    <>
      <button type="button" className="skip" onClick={() => heading.current?.focus()}>
        Skip to content
      </button>
      <header className="top">
        <span className="brand">Backplane</span>
        <nav aria-label="Main">
          <ul>
            {pages.map((page) => (
              <li key={page.path}>
                <a href={`#/${page.path}`} aria-current={page === current ? 'page' : undefined}>
                  {page.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span className="who" data-role={session.me.role}>
          {session.me.name} · {session.me.role} · {session.me.tenant.name}
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main id="main" ref={heading} tabIndex={-1}>
        {current.path === 'organizations' ? <OrganizationsPage route={rest} /> : null}
        {current.path === 'plans' ? <PlansPage route={rest} /> : null}
        {current.path === 'audit' ? <AuditArea route={rest} /> : null}
      </main>
    </>
  );
}

createRoot(document.getElementById('root')!).render(<App />);
