import { useEffect, useId, useState, type FormEvent } from 'react';
import { describeError, fieldErrors } from './api';
import { docs, type Credential, type Device, type Organization } from './documents';
import { Alert, ListPage, describedBy, FieldError, Section, StatusBadge, Switch, TextField, when } from './forms';
import { PasswordPicker } from './passwords';
import { ScheduleOptions, scheduleDraftOf, scheduleInput, type ScheduleDraft } from './schedule';
import { go, useQuery, useSession } from './session';

export function OrganizationsPage({ route }: { route: string[] }) {
  if (route[0] === 'new') return <AddOrganization />;
  if (route[0]) return <EditOrganization id={route[0]} />;
  return <OrganizationList />;
}

function OrganizationList() {
  const session = useSession();
  const { data, error, loading } = useQuery<{ organizations: Organization[] }>(docs.organizations);
  return (
    <ListPage
      title="Organizations"
      add={session.canEdit ? { href: '#/organizations/new', label: 'Add organization' } : undefined}
      error={error}
      loading={loading}
      count={data?.organizations.length}
      empty="No organization yet."
    >
      <table className="list">
        <caption className="visually-hidden">GitLab organizations</caption>
        <thead>
          <tr>
            <th scope="col">Organization</th>
            <th scope="col">GitLab</th>
            <th scope="col">Sign-in</th>
            <th scope="col">Status</th>
            <th scope="col">Additional credentials</th>
          </tr>
        </thead>
        <tbody>
          {(data?.organizations ?? []).map((organization) => (
            <tr key={organization.id} data-organization={organization.name}>
              <td>
                <a href={`#/organizations/${organization.id}`}>{organization.name}</a>
              </td>
              <td>{organization.gitlabUrl}</td>
              <td>{organization.authMethod === 'SSO' ? 'GitLab sign-in (SSO)' : `Token of ${organization.login}`}</td>
              <td>
                <StatusBadge status={organization.status} />
              </td>
              <td>{organization.credentials.length}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </ListPage>
  );
}

/** "Default device" with its Change button. */
function DefaultDevice({ value, onChange, error, disabled }: { value: string; onChange(id: string): void; error?: string; disabled?: boolean }) {
  const id = useId();
  const devices = useQuery<{ devices: Device[] }>(docs.devices);
  const [changing, setChanging] = useState(false);
  const list = devices.data?.devices ?? [];
  const current = list.find((device) => device.id === value);
  return (
    <div className="field" data-field="defaultDeviceId">
      <span className="label" id={`${id}-label`}>
        Default device
      </span>
      <p className="hint">The device that signs in to GitLab for this organization: it must reach GitLab.</p>
      {changing ? (
        <div className="inline">
          <select
            aria-labelledby={`${id}-label`}
            value={value}
            onChange={(event) => {
              onChange(event.target.value);
              setChanging(false);
            }}
            {...describedBy(id, error)}
          >
            {list.map((device) => (
              <option key={device.id} value={device.id}>
                {device.name}
                {device.builtIn ? ' (this server)' : ''}
              </option>
            ))}
          </select>
        </div>
      ) : (
        <div className="inline">
          <span className="value">{current ? current.name : value ? 'Unknown device' : 'None'}</span>
          <button type="button" onClick={() => setChanging(true)} disabled={disabled} aria-label="Change default device">
            Change
          </button>
        </div>
      )}
      <FieldError id={id} message={error} />
    </div>
  );
}

const ORGANIZATION_FIELDS = ['name', 'gitlabUrl', 'authMethod', 'login', 'passwordId', 'repositoriesSync', 'defaultDeviceId', 'protectGroups'] as const;

function AddOrganization() {
  const session = useSession();
  const devices = useQuery<{ devices: Device[] }>(docs.devices);
  const [form, setForm] = useState({
    name: '',
    gitlabUrl: 'https://gitlab.com',
    withToken: false,
    login: '',
    passwordId: '',
    protectGroups: false,
    autoAddNewRepositories: false,
    deviceId: '',
  });
  const [sync, setSync] = useState<ScheduleDraft>(scheduleDraftOf({ times: ['02:00'], intervalMinutes: null }));
  const [errors, setErrors] = useState<{ fields: Record<string, string>; rest?: string }>({ fields: {} });
  const [busy, setBusy] = useState(false);
  const [pending, setPending] = useState<Organization | null>(null);
  const deviceId = form.deviceId || devices.data?.devices.find((device) => device.builtIn)?.id || '';
  const set = (change: Partial<typeof form>) => setForm({ ...form, ...change });

  async function proceed(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    try {
      const input = {
        provider: 'GITLAB',
        name: form.name.trim(),
        gitlabUrl: form.gitlabUrl.trim(),
        authMethod: form.withToken ? 'TOKEN' : 'SSO',
        ...(form.withToken ? { login: form.login.trim(), passwordId: form.passwordId || null } : {}),
        protectGroups: form.protectGroups,
        autoAddNewRepositories: form.autoAddNewRepositories,
        repositoriesSync: scheduleInput(sync),
        defaultDeviceId: deviceId,
      };
      const { addOrganization } = await session.call<{ addOrganization: Organization }>(docs.addOrganization, { input });
      if (addOrganization.authorizationUrl) setPending(addOrganization);
      else go('organizations');
    } catch (failure) {
      setErrors(fieldErrors(failure, ORGANIZATION_FIELDS));
    } finally {
      setBusy(false);
    }
  }

  if (pending) return <SignInToGitLab organization={pending} />;
  return (
    <>
      <div className="page-head">
        <h1>Add organization</h1>
      </div>
      <form className="form" onSubmit={proceed} noValidate aria-label="Add organization">
        <Section title="Authentication">
          <p>
            Service: <strong>GitLab</strong>
          </p>
          <TextField
            label="GitLab URL"
            name="gitlabUrl"
            type="url"
            value={form.gitlabUrl}
            onChange={(gitlabUrl) => set({ gitlabUrl })}
            error={errors.fields.gitlabUrl}
          />
          <TextField
            label="Organization (GitLab group path)"
            name="name"
            value={form.name}
            onChange={(name) => set({ name })}
            error={errors.fields.name}
            hint="The group's full path, such as acme/platform."
          />
        </Section>
        <Section title="Settings">
          <Switch name="authMethod" label="Register using login and password/token" checked={form.withToken} onChange={(withToken) => set({ withToken })} />
          <FieldError id="authMethod" message={errors.fields.authMethod} />
          {form.withToken ? (
            <div className="nested">
              <TextField
                label="Login"
                name="login"
                value={form.login}
                onChange={(login) => set({ login })}
                error={errors.fields.login}
                hint="Your GitLab username."
              />
              <PasswordPicker value={form.passwordId} onChange={(passwordId) => set({ passwordId })} error={errors.fields.passwordId} />
            </div>
          ) : (
            <p className="hint">Off: you sign in to GitLab (SSO) after Proceed.</p>
          )}
          <Switch name="protectGroups" label="Protect groups" checked={form.protectGroups} onChange={(protectGroups) => set({ protectGroups })} />
          <Switch
            name="autoAddNewRepositories"
            label="Automatically add new repositories"
            checked={form.autoAddNewRepositories}
            onChange={(autoAddNewRepositories) => set({ autoAddNewRepositories })}
          />
        </Section>
        <Section title="Repositories list sync options">
          <ScheduleOptions
            legend="Repositories list sync options"
            name="repositoriesSync"
            maxMinutes={1440}
            draft={sync}
            onChange={setSync}
            error={errors.fields.repositoriesSync}
          />
        </Section>
        <Section title="Default device">
          <DefaultDevice value={deviceId} onChange={(id) => set({ deviceId: id })} error={errors.fields.defaultDeviceId} />
        </Section>
        <Alert>{errors.rest}</Alert>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Checking with GitLab…' : 'Proceed'}
          </button>
          <a className="button" href="#/organizations">
            Cancel
          </a>
        </div>
      </form>
    </>
  );
}

/** How often the SSO page asks whether GitLab's sign-in has come back. */
const AUTHORIZATION_POLL_MS = 1500;

/**
 * The SSO path: GitLab's sign-in opens in a new tab, whose callback page records the authorization;
 * this page watches the organization's status and moves on once it is ACTIVE.
 */
function SignInToGitLab({ organization }: { organization: Organization }) {
  const session = useSession();
  const [status, setStatus] = useState(organization.status);
  useEffect(() => {
    if (status !== 'PENDING_AUTHORIZATION') return;
    const timer = window.setInterval(async () => {
      try {
        const { organization: now } = await session.call<{ organization: { status: string } | null }>(docs.organizationStatus, { id: organization.id });
        if (now) setStatus(now.status);
      } catch {
        // A missed poll is retried at the next tick.
      }
    }, AUTHORIZATION_POLL_MS);
    return () => window.clearInterval(timer);
  }, [session, organization.id, status]);

  if (status === 'ACTIVE') {
    return (
      <>
        <div className="page-head">
          <h1>Signed in to GitLab</h1>
        </div>
        <Alert kind="success">
          <strong>{organization.name}</strong> is authorized and active.
        </Alert>
        <div className="actions">
          <a className="button primary" href={`#/organizations/${organization.id}`}>
            Open {organization.name}
          </a>
          <a className="button" href="#/organizations">
            Back to organizations
          </a>
        </div>
      </>
    );
  }
  return (
    <>
      <div className="page-head">
        <h1>Sign in to GitLab</h1>
      </div>
      <p>
        <strong>{organization.name}</strong> is added and waits for a GitLab sign-in. Open GitLab's sign-in page and approve Backplane: this page notices when
        GitLab sends you back.
      </p>
      <div className="actions">
        <a className="button primary" href={organization.authorizationUrl ?? '#'} target="_blank" rel="noopener noreferrer">
          Open GitLab sign-in
        </a>
      </div>
      <p className="hint" role="status">
        Waiting for GitLab… The link is valid for 15 minutes and for one sign-in; the organization's page gives a new one.
      </p>
    </>
  );
}

function EditOrganization({ id }: { id: string }) {
  const session = useSession();
  const query = useQuery<{ organization: Organization | null }>(docs.organization, { id });
  const organization = query.data?.organization;
  if (query.error && !organization) return <Alert>{describeError(query.error)}</Alert>;
  if (!organization) return query.loading ? <p>Loading…</p> : <Alert>No such organization.</Alert>;
  return (
    <>
      <div className="page-head">
        <h1>{organization.name}</h1>
        <StatusBadge status={organization.status} />
      </div>
      <p className="hint">
        {organization.gitlabUrl} · {organization.authMethod === 'SSO' ? 'GitLab sign-in (SSO)' : `token of ${organization.login}`}
      </p>
      <MainLogin organization={organization} reload={query.reload} />
      <OrganizationSettings key={organization.version} organization={organization} reload={query.reload} />
      <Credentials organization={organization} reload={query.reload} canEdit={session.canEdit} />
    </>
  );
}

function MainLogin({ organization, reload }: { organization: Organization; reload(): Promise<void> }) {
  const session = useSession();
  const [message, setMessage] = useState<{ kind: 'error' | 'success'; text: string } | null>(null);
  const [link, setLink] = useState<string | null>(null);
  async function act(document: string, done: (organization: Organization & { authorizationUrl: string | null }) => void) {
    try {
      const data = await session.call<Record<string, Organization>>(document, { id: organization.id });
      done(Object.values(data)[0]!);
      await reload();
    } catch (failure) {
      setMessage({ kind: 'error', text: describeError(failure) });
    }
  }
  const token = organization.token;
  return (
    <Section title="Main login">
      <dl className="facts">
        <dt>Login</dt>
        <dd>{organization.login ?? '—'}</dd>
        <dt>Password</dt>
        <dd>{organization.password ? `${organization.password.name} (${organization.password.fingerprint})` : '—'}</dd>
        <dt>Token expires</dt>
        <dd>{token.expiresAt ?? 'never'}</dd>
        <dt>Last verified</dt>
        <dd>
          {when(token.verifiedAt)}
          {token.failure ? ` · ${token.problem ?? token.failure}` : ''}
        </dd>
      </dl>
      {session.canEdit ? (
        <div className="actions">
          {organization.status === 'PENDING_AUTHORIZATION' ? (
            <button type="button" onClick={() => act(docs.authorizeOrganization, (o) => setLink(o.authorizationUrl))}>
              Sign in to GitLab
            </button>
          ) : (
            <button
              type="button"
              onClick={() =>
                act(docs.verifyOrganization, (o) =>
                  setMessage(
                    o.token.failure ? { kind: 'error', text: o.token.problem ?? o.token.failure } : { kind: 'success', text: 'GitLab accepted the token.' },
                  ),
                )
              }
            >
              Verify again
            </button>
          )}
        </div>
      ) : null}
      {link ? (
        <p>
          <a href={link} target="_blank" rel="noopener noreferrer">
            Open GitLab sign-in
          </a>
        </p>
      ) : null}
      {message ? <Alert kind={message.kind}>{message.text}</Alert> : null}
    </Section>
  );
}

function OrganizationSettings({ organization, reload }: { organization: Organization; reload(): Promise<void> }) {
  const session = useSession();
  const [settings, setSettings] = useState({ protectGroups: organization.protectGroups, autoAddNewRepositories: organization.autoAddNewRepositories });
  const [sync, setSync] = useState(scheduleDraftOf(organization.repositoriesSync));
  const [deviceId, setDeviceId] = useState(organization.defaultDevice?.id ?? '');
  const [errors, setErrors] = useState<{ fields: Record<string, string>; rest?: string }>({ fields: {} });
  const [saved, setSaved] = useState(false);
  const readOnly = !session.canEdit;

  async function save(event: FormEvent) {
    event.preventDefault();
    setSaved(false);
    try {
      if (deviceId && deviceId !== organization.defaultDevice?.id) await session.call(docs.changeDefaultDevice, { id: organization.id, deviceId });
      await session.call(docs.updateOrganizationSettings, {
        id: organization.id,
        input: { ...settings, repositoriesSync: scheduleInput(sync) },
        v: deviceId !== organization.defaultDevice?.id ? null : organization.version,
      });
      setErrors({ fields: {} });
      setSaved(true);
      await reload();
    } catch (failure) {
      const found = fieldErrors(failure, ORGANIZATION_FIELDS);
      setErrors(found.rest ? { ...found, rest: describeError(failure) } : found);
    }
  }

  return (
    <form onSubmit={save} noValidate aria-label="Settings">
      <Section title="Settings">
        <Switch
          name="protectGroups"
          label="Protect groups"
          checked={settings.protectGroups}
          disabled={readOnly}
          onChange={(protectGroups) => setSettings({ ...settings, protectGroups })}
        />
        <Switch
          name="autoAddNewRepositories"
          label="Automatically add new repositories"
          checked={settings.autoAddNewRepositories}
          disabled={readOnly}
          onChange={(autoAddNewRepositories) => setSettings({ ...settings, autoAddNewRepositories })}
        />
        <ScheduleOptions
          legend="Repositories list sync options"
          name="repositoriesSync"
          maxMinutes={1440}
          draft={sync}
          onChange={setSync}
          error={errors.fields.repositoriesSync}
          disabled={readOnly}
        />
        <DefaultDevice value={deviceId} onChange={setDeviceId} error={errors.fields.defaultDeviceId} disabled={readOnly} />
        <Alert>{errors.rest}</Alert>
        {saved ? <Alert kind="success">Settings saved.</Alert> : null}
        {readOnly ? null : (
          <div className="actions">
            <button type="submit" className="primary">
              Save
            </button>
          </div>
        )}
      </Section>
    </form>
  );
}

function Credentials({ organization, reload, canEdit }: { organization: Organization; reload(): Promise<void>; canEdit: boolean }) {
  const session = useSession();
  const [adding, setAdding] = useState(false);
  const [draft, setDraft] = useState({ login: '', passwordId: '' });
  const [errors, setErrors] = useState<{ fields: Record<string, string>; rest?: string }>({ fields: {} });
  const [message, setMessage] = useState<{ kind: 'error' | 'success'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  async function add(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    try {
      await session.call(docs.addCredential, { input: { organizationId: organization.id, login: draft.login.trim(), passwordId: draft.passwordId } });
      setDraft({ login: '', passwordId: '' });
      setErrors({ fields: {} });
      setAdding(false);
      setMessage({ kind: 'success', text: 'Credential added. Switch it on in a plan to use it.' });
      await reload();
    } catch (failure) {
      setErrors(fieldErrors(failure, ['login', 'passwordId']));
    } finally {
      setBusy(false);
    }
  }

  async function act(credential: Credential, document: string, done: string) {
    try {
      const data = await session.call<Record<string, Credential>>(document, { id: credential.id });
      const after = Object.values(data)[0]!;
      setMessage(
        after.token?.failure ? { kind: 'error', text: `${credential.login}: ${after.token.problem ?? after.token.failure}` } : { kind: 'success', text: done },
      );
      await reload();
    } catch (failure) {
      setMessage({ kind: 'error', text: describeError(failure) });
    }
  }

  return (
    <Section
      title="Additional credentials"
      actions={
        canEdit && !adding ? (
          <button type="button" onClick={() => setAdding(true)}>
            Add new
          </button>
        ) : null
      }
    >
      <p className="hint">
        Other GitLab accounts of this organization, so that backups spread their API use. A new one is on no plan until a plan switches it on.
      </p>
      {organization.credentials.length === 0 ? <p>No additional credential.</p> : null}
      {organization.credentials.length > 0 ? (
        <table className="list">
          <caption className="visually-hidden">Additional credentials</caption>
          <thead>
            <tr>
              <th scope="col">Login</th>
              <th scope="col">Status</th>
              <th scope="col">Token expires</th>
              <th scope="col">Last verified</th>
              {canEdit ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {organization.credentials.map((credential) => (
              <tr key={credential.id} data-credential={credential.login}>
                <td>{credential.login}</td>
                <td>
                  <StatusBadge status={credential.status} />
                  {credential.throttledUntil && credential.status === 'THROTTLED' ? (
                    <span className="hint"> until {when(credential.throttledUntil)}</span>
                  ) : null}
                </td>
                <td>{credential.token.expiresAt ?? 'never'}</td>
                <td>
                  {when(credential.token.verifiedAt)}
                  {credential.token.failure ? <span className="hint"> · {credential.token.problem ?? credential.token.failure}</span> : null}
                </td>
                {canEdit ? (
                  <td className="row-actions">
                    <button type="button" onClick={() => act(credential, docs.verifyCredential, `${credential.login}: GitLab accepted the token.`)}>
                      Verify again<span className="visually-hidden"> {credential.login}</span>
                    </button>
                    <button
                      type="button"
                      className="danger"
                      onClick={() => {
                        if (window.confirm(`Remove ${credential.login}? It is switched off on every plan that has it.`)) {
                          void act(credential, docs.removeCredential, `${credential.login} removed.`);
                        }
                      }}
                    >
                      Remove<span className="visually-hidden"> {credential.login}</span>
                    </button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {adding ? (
        <form className="subform" onSubmit={add} noValidate aria-label="New additional credential">
          <TextField
            label="Login"
            name="login"
            value={draft.login}
            onChange={(login) => setDraft({ ...draft, login })}
            error={errors.fields.login}
            hint="The GitLab username."
          />
          <PasswordPicker value={draft.passwordId} onChange={(passwordId) => setDraft({ ...draft, passwordId })} error={errors.fields.passwordId} />
          <Alert>{errors.rest}</Alert>
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Checking with GitLab…' : 'Save'}
            </button>
            <button type="button" onClick={() => setAdding(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : null}
      {message ? <Alert kind={message.kind}>{message.text}</Alert> : null}
    </Section>
  );
}
