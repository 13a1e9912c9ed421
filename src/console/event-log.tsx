import { useId, useState, type FormEvent } from 'react';
import { describeError } from './api';
import { AuditExport } from './audit-export';
import { filterFromQuery, instantOfLocal, localInputValue, queryOfFilter, splitTypes, type AuditFilterValues } from './audit-filter';
import { useAuditLogFeed, type LiveState } from './audit-log-feed';
import { docs, type Actor, type AuditEvent } from './documents';
import { Alert, Section, when } from './forms';
import { useQuery, useRoute, useSession } from './session';

export const EVENT_LOG_PATH = '#/audit/log';

/** The filters' part of the address: what follows "?" in the hash. */
function hashQuery(): string {
  const at = location.hash.indexOf('?');
  return at < 0 ? '' : location.hash.slice(at + 1);
}

/** Read again on every change of the hash (useRoute listens for it). */
function useHashQuery(): string {
  useRoute();
  return hashQuery();
}

interface Names {
  organizations: { id: string; name: string; credentials: { id: string; login: string }[] }[];
  plans: { id: string; name: string; organization: { id: string } }[];
}

/** Names for the ids events carry, from the tenant's organizations, plans and credentials as they are now. */
interface Lookup {
  organization: Map<string, string>;
  plan: Map<string, string>;
  credential: Map<string, string>;
}

function lookupOf(names: Names | undefined): Lookup {
  const lookup: Lookup = { organization: new Map(), plan: new Map(), credential: new Map() };
  for (const organization of names?.organizations ?? []) {
    lookup.organization.set(organization.id, organization.name);
    for (const credential of organization.credentials) lookup.credential.set(credential.id, credential.login);
  }
  for (const plan of names?.plans ?? []) lookup.plan.set(plan.id, plan.name);
  return lookup;
}

/** The tenant's whole history, filtered by the address's query, paged, and live. */
export function EventLogPage() {
  const query = useHashQuery();
  const filter = filterFromQuery(query);
  const names = useQuery<Names>(docs.auditNames);
  // Only an ADMIN may list the tokens; others pick among the actors the log shows.
  const session = useSession();
  const tokens = useQuery<{ apiTokens: Actor[] }>(docs.apiTokens, undefined, { skip: session.me.role !== 'ADMIN' });
  const feed = useAuditLogFeed(queryOfFilter(filter));
  const lookup = lookupOf(names.data);
  const actors = new Map<string, string>();
  for (const token of tokens.data?.apiTokens ?? []) if (token.id) actors.set(token.id, actorName(token));
  for (const event of feed.events) if (event.actor.id && !actors.has(event.actor.id)) actors.set(event.actor.id, actorName(event.actor));
  const types = [...new Set(feed.events.map((event) => event.type))].sort();

  return (
    <>
      <div className="page-head">
        <h1>Event log</h1>
      </div>
      <FilterForm key={query} filter={filter} names={names.data} actors={actors} types={types} />
      <AuditExport query={queryOfFilter(filter)} />
      <Alert>{names.error ? describeError(names.error) : null}</Alert>
      <Section title="Events">
        <LiveNote live={feed.live} hasNextPage={feed.hasNextPage} />
        <Alert>{feed.error ? describeError(feed.error) : null}</Alert>
        {feed.events.length === 0 && !feed.loading ? <p>No event matches these filters yet.</p> : null}
        {feed.events.length > 0 ? <EventTable events={feed.events} lookup={lookup} /> : null}
        {feed.loading ? <p>Loading…</p> : null}
        {feed.hasNextPage && !feed.loading ? (
          <div className="actions">
            <button type="button" onClick={feed.loadMore}>
              Load more
            </button>
          </div>
        ) : null}
      </Section>
    </>
  );
}

function LiveNote({ live, hasNextPage }: { live: LiveState; hasNextPage: boolean }) {
  const text =
    live === 'live'
      ? 'Live: new events matching these filters appear at the end as they happen.'
      : live === 'reconnecting'
        ? 'Live updates interrupted; reconnecting from the last event shown…'
        : live === 'stopped'
          ? 'Live updates stopped. Reload the page to resume.'
          : hasNextPage
            ? 'Oldest first. Live updates start once the newest events are loaded (Load more).'
            : '';
  return (
    <p className="hint" role="status" data-live={live}>
      {text}
    </p>
  );
}

function FilterForm({ filter, names, actors, types }: { filter: AuditFilterValues; names: Names | undefined; actors: Map<string, string>; types: string[] }) {
  const id = useId();
  const [from, setFrom] = useState(localInputValue(filter.from));
  const [to, setTo] = useState(localInputValue(filter.to));
  const [typeText, setTypeText] = useState((filter.types ?? []).join(', '));
  const [organizationId, setOrganizationId] = useState(filter.organizationId ?? '');
  const [planId, setPlanId] = useState(filter.planId ?? '');
  const [credentialId, setCredentialId] = useState(filter.credentialId ?? '');
  const [actorId, setActorId] = useState(filter.actorId ?? '');

  function apply(event: FormEvent) {
    event.preventDefault();
    const next: AuditFilterValues = {
      from: instantOfLocal(from),
      to: instantOfLocal(to),
      types: splitTypes(typeText),
      organizationId: organizationId || undefined,
      planId: planId || undefined,
      credentialId: credentialId || undefined,
      actorId: actorId || undefined,
    };
    const query = queryOfFilter(next);
    location.hash = query ? `${EVENT_LOG_PATH}?${query}` : EVENT_LOG_PATH;
  }

  const organizations = names?.organizations ?? [];
  const plans = (names?.plans ?? []).filter((plan) => !organizationId || plan.organization.id === organizationId);
  const credentials = organizations
    .filter((organization) => !organizationId || organization.id === organizationId)
    .flatMap((organization) => organization.credentials.map((credential) => ({ ...credential, organization: organization.name })));
  const organizationName = new Map(organizations.map((organization) => [organization.id, organization.name]));

  return (
    <form className="section filters" onSubmit={apply} aria-label="Filter the event log">
      <div className="filter-grid">
        <div className="field">
          <label htmlFor={`${id}-from`}>From (your local time)</label>
          <input id={`${id}-from`} type="datetime-local" step={1} value={from} onChange={(event) => setFrom(event.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-to`}>Until (your local time, exclusive)</label>
          <input id={`${id}-to`} type="datetime-local" step={1} value={to} onChange={(event) => setTo(event.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-types`}>Event types</label>
          <input
            id={`${id}-types`}
            list={`${id}-known-types`}
            value={typeText}
            spellCheck={false}
            autoComplete="off"
            aria-describedby={`${id}-types-hint`}
            onChange={(event) => setTypeText(event.target.value)}
          />
          <datalist id={`${id}-known-types`}>
            {types.map((type) => (
              <option key={type} value={type} />
            ))}
          </datalist>
          <p className="hint" id={`${id}-types-hint`}>
            Separated by commas, such as PlanCredentialToggled.
          </p>
        </div>
        <Choice
          label="Organization"
          value={organizationId}
          onChange={setOrganizationId}
          options={organizations.map((organization) => [organization.id, organization.name])}
        />
        <Choice
          label="Plan"
          value={planId}
          onChange={setPlanId}
          options={plans.map((plan) => [plan.id, `${plan.name} (${organizationName.get(plan.organization.id) ?? 'organization removed'})`])}
        />
        <Choice
          label="Credential"
          value={credentialId}
          onChange={setCredentialId}
          options={credentials.map((credential) => [credential.id, `${credential.login} (${credential.organization})`])}
        />
        <Choice label="Actor" value={actorId} onChange={setActorId} options={[...actors]} />
      </div>
      <div className="actions">
        <button type="submit" className="primary">
          Apply filters
        </button>
        <a className="button" href={EVENT_LOG_PATH}>
          Clear filters
        </a>
      </div>
    </form>
  );
}

/** One id filter: All, or one of the options; an id from a shared link that none names is offered as itself. */
function Choice({ label, value, onChange, options }: { label: string; value: string; onChange(value: string): void; options: [string, string][] }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(event) => onChange(event.target.value)}>
        <option value="">All</option>
        {options.map(([option, text]) => (
          <option key={option} value={option}>
            {text}
          </option>
        ))}
        {value && !options.some(([option]) => option === value) ? <option value={value}>{value}</option> : null}
      </select>
    </div>
  );
}

function actorName(actor: Actor & { kind?: string | null }): string {
  const name = actor.name ?? actor.id ?? actor.kind ?? 'unknown';
  return actor.role ? `${name} (${actor.role})` : name;
}

/** What an event concerns: the organization, plan and credential it names, by their names where known. */
function concerns(event: AuditEvent, lookup: Lookup): [kind: string, name: string][] {
  const data = event.data as { organizationId?: unknown; planId?: unknown; credentialId?: unknown; name?: unknown; login?: unknown };
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const short = (id: string) => id.slice(0, 8);
  const found: [string, string][] = [];
  const organizationId = text(data.organizationId);
  const planId = text(data.planId);
  const credentialId = text(data.credentialId);
  // An event of its own aggregate carries the name it was given (a plan created, a credential added).
  const own = (prefix: string, field: unknown) => (event.type.startsWith(prefix) ? text(field) : undefined);
  if (organizationId) found.push(['Organization', lookup.organization.get(organizationId) ?? own('Organization', data.name) ?? short(organizationId)]);
  if (planId) found.push(['Plan', lookup.plan.get(planId) ?? own('Plan', data.name) ?? short(planId)]);
  if (credentialId) found.push(['Credential', lookup.credential.get(credentialId) ?? text(data.login) ?? short(credentialId)]);
  if (found.length === 0) found.push(['Stream', event.streamName]);
  return found;
}

function EventTable({ events, lookup }: { events: AuditEvent[]; lookup: Lookup }) {
  return (
    <table className="list event-log" data-event-log>
      <caption className="visually-hidden">Events of the tenant, oldest first</caption>
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Actor</th>
          <th scope="col">Type</th>
          <th scope="col">Concerns</th>
          <th scope="col">Correlation id</th>
          <th scope="col">
            <span className="visually-hidden">Details</span>
          </th>
        </tr>
      </thead>
      {events.map((event) => (
        <EventRows key={event.id} event={event} lookup={lookup} />
      ))}
    </table>
  );
}

/** One event: its row, and below it, when expanded, everything the log holds of it. */
function EventRows({ event, lookup }: { event: AuditEvent; lookup: Lookup }) {
  const [open, setOpen] = useState(false);
  const id = useId();
  return (
    <tbody data-event-id={event.id} data-event-type={event.type}>
      <tr>
        <td>
          <time dateTime={event.occurredAt}>{when(event.occurredAt)}</time>
        </td>
        <td>{actorName(event.actor)}</td>
        <td>{event.type}</td>
        <td>
          {concerns(event, lookup).map(([kind, name]) => (
            <span className="concern" key={kind}>
              <span className="concern-kind">{kind}</span> {name}
            </span>
          ))}
        </td>
        <td>
          <code>{event.correlationId ?? '—'}</code>
        </td>
        <td>
          <button
            type="button"
            aria-expanded={open}
            aria-controls={id}
            onClick={() => setOpen(!open)}
            aria-label={`Details of ${event.type} at ${when(event.occurredAt)}`}
          >
            Details
          </button>
        </td>
      </tr>
      <tr id={id} hidden={!open} className="event-details">
        <td colSpan={6}>
          {open ? (
            <>
              <dl className="facts">
                <dt>Event id</dt>
                <dd>
                  <code>{event.id}</code>
                </dd>
                <dt>Stream</dt>
                <dd>
                  <code>{event.streamName}</code>
                </dd>
                <dt>Cursor</dt>
                <dd>
                  <code>{event.cursor}</code>
                </dd>
                <dt>Caused by</dt>
                <dd>
                  <code>{event.causationId ?? '—'}</code>
                </dd>
                <dt>Hash</dt>
                <dd>
                  <code>{event.hash}</code>
                </dd>
              </dl>
              <pre className="event-data" data-event-data>
                {JSON.stringify(event.data, null, 2)}
              </pre>
            </>
          ) : null}
        </td>
      </tr>
    </tbody>
  );
}
