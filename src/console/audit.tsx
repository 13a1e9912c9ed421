import { useCallback, useEffect, useId, useState, type FormEvent } from 'react';
import { describeError, socket } from './api';
import { docs, type Actor, type HistoryEvent, type Plan, type PlanCredential } from './documents';
import { Alert, Section, when } from './forms';
import { go, useQuery, useSession } from './session';
import { buildTimeline, place, type Interval, type Timeline } from './timeline';

const PLAN_EVENT_TYPES = ['PlanCreated', 'PlanAdditionalCredentialsSet', 'PlanCredentialToggled', 'PlanDeleted'];

export function AuditPage({ route }: { route: string[] }) {
  const plans = useQuery<{ plans: { id: string; name: string; organization: { name: string } }[] }>(docs.plans);
  const planId = route[0] ?? '';
  const list = plans.data?.plans ?? [];
  return (
    <>
      <div className="page-head">
        <h1>Audit</h1>
      </div>
      <div className="field inline-field">
        <label htmlFor="audit-plan">Plan</label>
        <select id="audit-plan" value={planId} onChange={(event) => go('audit', event.target.value)}>
          <option value="">Select a plan…</option>
          {list.map((plan) => (
            <option key={plan.id} value={plan.id}>
              {plan.name} ({plan.organization.name})
            </option>
          ))}
        </select>
      </div>
      <Alert>{plans.error ? describeError(plans.error) : null}</Alert>
      {planId ? <PlanAudit key={planId} planId={planId} /> : <p>Select a plan to see who switched its credentials on and off, and when.</p>}
    </>
  );
}

interface HistoryPage {
  auditLog: {
    edges: { node: HistoryEvent & { cursor?: string } }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null; liveCursor?: string | null };
  };
}

/** The plan's whole credential history, page by page, kept up to date over the socket. */
function usePlanHistory(planId: string) {
  const session = useSession();
  const [events, setEvents] = useState<HistoryEvent[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    const all: HistoryEvent[] = [];
    let after: string | null = null;
    for (;;) {
      const page: HistoryPage = await session.call<HistoryPage>(docs.planHistory, { filter: { planId, types: PLAN_EVENT_TYPES }, after });
      all.push(...page.auditLog.edges.map((edge) => edge.node));
      // Where to go on live: the last event read, or, when the plan has none yet, where the history stood (liveCursor).
      if (!page.auditLog.pageInfo.hasNextPage) return { all, cursor: page.auditLog.pageInfo.liveCursor ?? page.auditLog.pageInfo.endCursor ?? after };
      after = page.auditLog.pageInfo.endCursor;
    }
  }, [session, planId]);

  useEffect(() => {
    let stopped = false;
    let unsubscribe = () => {};
    const client = socket(session.token);
    /** Events heard live that the history shown does not hold yet. */
    const heard = new Set<string>();
    let reloading = false;
    /**
     * Reloads the history until it holds every event heard live: the history is a read model,
     * which may take in an event a moment after the log tells of it (a reload before would show
     * the history without it, and nothing would reload it again). One reload at a time, so that
     * an older answer never replaces a newer one.
     */
    const refresh = async (id: string | undefined) => {
      if (id !== undefined) heard.add(id);
      if (reloading) return;
      reloading = true;
      try {
        for (let wait = 50; ; wait = Math.min(wait * 2, 6400)) {
          const { all } = await load();
          if (stopped) return;
          const ids = new Set(all.map((event) => event.id));
          for (const event of [...heard]) if (ids.has(event)) heard.delete(event);
          setEvents(all);
          if (heard.size === 0) return;
          await new Promise((resolve) => setTimeout(resolve, wait));
          if (stopped) return;
        }
      } catch (failure) {
        if (!stopped) setError(failure);
      } finally {
        reloading = false;
      }
    };
    void (async () => {
      try {
        const { all, cursor } = await load();
        if (stopped) return;
        setEvents(all);
        // Live: each event of the plan after the last one read reloads the history.
        unsubscribe = client.subscribe(
          { query: docs.planEvents, variables: { filter: { planId, types: PLAN_EVENT_TYPES }, after: cursor } },
          {
            next: (message) => void refresh((message.data as { auditEvents?: { id?: string } } | undefined)?.auditEvents?.id),
            error: () => undefined,
            complete: () => undefined,
          },
        );
      } catch (failure) {
        if (!stopped) setError(failure);
      }
    })();
    return () => {
      stopped = true;
      unsubscribe();
      void client.dispose();
    };
  }, [session, planId, load]);

  return { events, error };
}

function PlanAudit({ planId }: { planId: string }) {
  const plan = useQuery<{ plan: Plan | null }>(docs.plan, { id: planId });
  const history = usePlanHistory(planId);
  const [at, setAt] = useState<number | null>(null);
  const failure = plan.error ?? history.error;
  if (failure) return <Alert>{describeError(failure)}</Alert>;
  if (!plan.data || !history.events) return <p>Loading…</p>;
  if (!plan.data.plan) return <Alert>No such plan.</Alert>;
  const logins = new Map(plan.data.plan.credentials.map((entry) => [entry.credential.id, entry.credential.login]));
  const timeline = buildTimeline(history.events, Date.now());
  return (
    <>
      <Section title={`Credentials of ${plan.data.plan.name}`}>
        <p className="hint">
          One lane per credential. A solid bar: switched on and effective (the plan's "Additional git credentials" switch on too); a hatched bar: switched on
          while the plan's switch was off. Hover or focus a bar to see who switched it and when.
        </p>
        <TimelineView timeline={timeline} logins={logins} at={at} />
      </Section>
      <AsOf planId={planId} onPick={setAt} />
      <PlanEvents events={history.events} logins={logins} />
      <VerifyLog />
    </>
  );
}

function actorName(actor: Actor | null): string {
  if (!actor) return 'unknown';
  return actor.role ? `${actor.name ?? actor.id} (${actor.role})` : (actor.name ?? actor.id ?? 'unknown');
}

function describe(interval: Interval, what: string): string {
  const on = `${what}: on from ${when(new Date(interval.from).toISOString())} by ${actorName(interval.onBy)}`;
  const off = interval.to === null ? 'still on' : `off at ${when(new Date(interval.to).toISOString())} by ${actorName(interval.offBy)}`;
  return `${on}; ${off}`;
}

function Bar({ timeline, interval, label, kind }: { timeline: Timeline; interval: Interval; label: string; kind: 'effective' | 'enabled' | 'switch' }) {
  const text = describe(interval, label);
  const id = useId();
  return (
    // A focusable element per bar: the keyboard reaches what the mouse hovers.
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a bar is focusable only to show its tooltip.
    <span className={`bar bar-${kind}`} style={place(timeline, interval)} tabIndex={0} title={text} aria-describedby={id} data-bar={kind}>
      <span className="tip" role="tooltip" id={id}>
        {text}
      </span>
    </span>
  );
}

function TimelineView({ timeline, logins, at }: { timeline: Timeline; logins: Map<string, string>; at: number | null }) {
  const marker = at !== null && at >= timeline.start && at <= timeline.end ? place(timeline, { from: at, to: at, onBy: NOBODY, offBy: null }).left : null;
  const labelOf = (id: string) => logins.get(id) ?? `removed credential ${id.slice(0, 8)}`;
  return (
    <figure className="timeline">
      <figcaption className="visually-hidden">Credential timeline</figcaption>
      <div className="axis" aria-hidden="true">
        <span>{when(new Date(timeline.start).toISOString())}</span>
        <span>{when(new Date(timeline.end).toISOString())}</span>
      </div>
      <div className="lane" data-lane="Additional git credentials">
        <span className="lane-label">Additional git credentials</span>
        <span className="track">
          {timeline.switched.map((interval) => (
            <Bar key={interval.from} timeline={timeline} interval={interval} label="Additional git credentials" kind="switch" />
          ))}
          {marker ? <span className="marker" style={{ left: marker }} aria-hidden="true" /> : null}
        </span>
      </div>
      {timeline.lanes.length === 0 ? <p className="hint">No credential has been switched on for this plan.</p> : null}
      {timeline.lanes.map((lane) => (
        <div className="lane" key={lane.credentialId} data-lane={labelOf(lane.credentialId)}>
          <span className="lane-label">{labelOf(lane.credentialId)}</span>
          <span className="track">
            {lane.enabled.map((interval) => (
              <Bar key={`on-${interval.from}`} timeline={timeline} interval={interval} label={`${labelOf(lane.credentialId)} switched on`} kind="enabled" />
            ))}
            {lane.effective.map((interval) => (
              <Bar key={`eff-${interval.from}`} timeline={timeline} interval={interval} label={`${labelOf(lane.credentialId)} effective`} kind="effective" />
            ))}
            {marker ? <span className="marker" style={{ left: marker }} aria-hidden="true" /> : null}
          </span>
        </div>
      ))}
    </figure>
  );
}

const NOBODY: Actor = { id: null, name: null, role: null };

/** `datetime-local` speaks the browser's local time without a zone; the API takes an instant. */
const localInputValue = (ms: number) => {
  const date = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return date.toISOString().slice(0, 19);
};

function AsOf({ planId, onPick }: { planId: string; onPick(at: number | null): void }) {
  const session = useSession();
  // The next whole second: the input holds seconds, and what happened this second must be in.
  const [value, setValue] = useState(() => localInputValue(Math.ceil(Date.now() / 1000) * 1000));
  const [answer, setAnswer] = useState<{ at: number; credentials: PlanCredential[] } | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function show(event: FormEvent) {
    event.preventDefault();
    const at = new Date(value).getTime();
    if (Number.isNaN(at)) {
      setError(new Error('Pick a date and a time.'));
      return;
    }
    try {
      const data = await session.call<{ planCredentialsAsOf: PlanCredential[] }>(docs.planCredentialsAsOf, { planId, at: new Date(at).toISOString() });
      setAnswer({ at, credentials: data.planCredentialsAsOf });
      setError(null);
      onPick(at);
    } catch (failure) {
      setError(failure);
    }
  }

  return (
    <Section title="Point in time">
      <form className="inline" onSubmit={show} aria-label="Credentials as of a point in time">
        <label htmlFor="as-of">As of (your local time)</label>
        <input id="as-of" type="datetime-local" step={1} value={value} onChange={(event) => setValue(event.target.value)} />
        <button type="submit" className="primary">
          Show
        </button>
      </form>
      <Alert>{error ? describeError(error) : null}</Alert>
      {answer ? (
        <table className="list" data-as-of={new Date(answer.at).toISOString()}>
          <caption>Credentials of the plan as of {when(new Date(answer.at).toISOString())}</caption>
          <thead>
            <tr>
              <th scope="col">Credential</th>
              <th scope="col">Switched on</th>
              <th scope="col">Effective</th>
              <th scope="col">Since</th>
              <th scope="col">By</th>
            </tr>
          </thead>
          <tbody>
            {answer.credentials.map((entry) => (
              <tr key={entry.credential.id} data-credential={entry.credential.login}>
                <td>{entry.credential.login}</td>
                <td>{entry.enabled ? 'Yes' : 'No'}</td>
                <td>{entry.effective ? 'Yes' : 'No'}</td>
                <td>{when(entry.enabledAt)}</td>
                <td>{entry.enabledBy ? actorName(entry.enabledBy) : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}

/** What an event did, in words: the switch or the credential it names, and to which value. */
function summary(event: HistoryEvent, logins: Map<string, string>): string {
  const data = event.data as { enabled?: boolean; credentialId?: string; name?: string };
  const state = data.enabled ? 'on' : 'off';
  switch (event.type) {
    case 'PlanCreated':
      return `plan "${data.name ?? ''}" created`;
    case 'PlanAdditionalCredentialsSet':
      return `Additional git credentials switched ${state}`;
    case 'PlanCredentialToggled':
      return `${logins.get(data.credentialId ?? '') ?? `credential ${(data.credentialId ?? '').slice(0, 8)}`} switched ${state}`;
    case 'PlanDeleted':
      return 'plan deleted';
    default:
      return event.type;
  }
}

/** The plan's events as the log holds them, newest first, with the correlation id that ties one Save's changes together. */
function PlanEvents({ events, logins }: { events: HistoryEvent[]; logins: Map<string, string> }) {
  return (
    <Section title="Events">
      <table className="list" data-events>
        <caption className="visually-hidden">The plan's credential events, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Actor</th>
            <th scope="col">What</th>
            <th scope="col">Correlation id</th>
          </tr>
        </thead>
        <tbody>
          {[...events].reverse().map((event) => (
            <tr key={event.id} data-event-type={event.type}>
              <td>{when(event.occurredAt)}</td>
              <td>{actorName(event.actor)}</td>
              <td>{summary(event, logins)}</td>
              <td>
                <code>{event.correlationId ?? '—'}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}

interface Verification {
  ok: boolean;
  checked: number;
  digestsChecked: number;
  firstBrokenCursor: string | null;
  firstBrokenDigest: string | null;
  problem: string | null;
}

/** verifyAuditLog: every hash chain of the tenant's log recomputed, and the signed digests checked. */
function VerifyLog() {
  const session = useSession();
  const [result, setResult] = useState<Verification | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function verify() {
    setBusy(true);
    try {
      setResult((await session.call<{ verifyAuditLog: Verification }>(docs.verifyAuditLog)).verifyAuditLog);
      setError(null);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Section title="Integrity of the log">
      <p className="hint">Recomputes the hash chain of every event of the tenant and checks the signed digests.</p>
      <button type="button" onClick={verify} disabled={busy}>
        {busy ? 'Verifying…' : 'Verify the log'}
      </button>
      <Alert>{error ? describeError(error) : null}</Alert>
      {result ? (
        <Alert kind={result.ok ? 'success' : 'error'}>
          {result.ok
            ? `Intact: ${result.checked} events and ${result.digestsChecked} digests checked.`
            : `Broken: ${result.problem ?? 'a check failed'}${result.firstBrokenCursor ? ` (first event at ${result.firstBrokenCursor})` : ''}${result.firstBrokenDigest ? ` (digest of ${result.firstBrokenDigest})` : ''}.`}
        </Alert>
      ) : null}
    </Section>
  );
}
