import { useState, type FormEvent } from 'react';
import { ApiError, describeError, fieldErrors } from './api';
import { docs, type Organization, type Plan } from './documents';
import { Alert, ListPage, FieldError, Section, StatusBadge, Switch, TextField, when } from './forms';
import { PlanTasks } from './tasks';
import { TaskPage } from './task-page';
import { SnapshotsArea } from './snapshots';
import { ScheduleOptions, scheduleDraftOf, scheduleInput } from './schedule';
import { go, useQuery, useSession } from './session';

export function PlansPage({ route }: { route: string[] }) {
  if (route[0] === 'new') return <AddPlan />;
  if (route[0] && route[1] === 'tasks' && route[2]) return <TaskPage key={route[2]} planId={route[0]} taskId={route[2]} />;
  if (route[0] && route[1] === 'snapshots') return <SnapshotsArea key={route[0]} planId={route[0]} route={route.slice(2)} />;
  if (route[0]) return <EditPlan key={route[0]} id={route[0]} />;
  return <PlanList />;
}

interface PlanRow {
  id: string;
  name: string;
  additionalCredentialsEnabled: boolean;
  organization: { id: string; name: string };
  credentials: { enabled: boolean; effective: boolean }[];
}

function PlanList() {
  const session = useSession();
  const { data, error, loading } = useQuery<{ plans: PlanRow[] }>(docs.plans);
  return (
    <ListPage
      title="Plans"
      add={session.canEdit ? { href: '#/plans/new', label: 'Add plan' } : undefined}
      error={error}
      loading={loading}
      count={data?.plans.length}
      empty="No plan yet."
    >
      <table className="list">
        <caption className="visually-hidden">Backup plans</caption>
        <thead>
          <tr>
            <th scope="col">Plan</th>
            <th scope="col">Organization</th>
            <th scope="col">Additional git credentials</th>
            <th scope="col">Accounts in use</th>
          </tr>
        </thead>
        <tbody>
          {(data?.plans ?? []).map((plan) => (
            <tr key={plan.id} data-plan={plan.name}>
              <td>
                <a href={`#/plans/${plan.id}`}>{plan.name}</a>
              </td>
              <td>{plan.organization.name}</td>
              <td>{plan.additionalCredentialsEnabled ? 'On' : 'Off'}</td>
              <td>{plan.credentials.filter((credential) => credential.effective).length}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </ListPage>
  );
}

function AddPlan() {
  const session = useSession();
  const organizations = useQuery<{ organizations: Organization[] }>(docs.organizations);
  const [form, setForm] = useState({ name: '', organizationId: '' });
  const [errors, setErrors] = useState<{ fields: Record<string, string>; rest?: string }>({ fields: {} });
  const list = organizations.data?.organizations ?? [];
  const organizationId = form.organizationId || list[0]?.id || '';

  async function save(event: FormEvent) {
    event.preventDefault();
    try {
      const { createPlan } = await session.call<{ createPlan: Plan }>(docs.createPlan, { input: { name: form.name.trim(), organizationId } });
      go('plans', createPlan.id);
    } catch (failure) {
      setErrors(fieldErrors(failure, ['name', 'organizationId']));
    }
  }

  return (
    <>
      <div className="page-head">
        <h1>Add plan</h1>
      </div>
      <form className="form" onSubmit={save} noValidate aria-label="Add plan">
        <TextField label="Plan name" name="name" value={form.name} onChange={(name) => setForm({ ...form, name })} error={errors.fields.name} />
        <div className="field" data-field="organizationId">
          <label htmlFor="plan-organization">Organization</label>
          <select id="plan-organization" value={organizationId} onChange={(event) => setForm({ ...form, organizationId: event.target.value })}>
            {list.map((organization) => (
              <option key={organization.id} value={organization.id}>
                {organization.name}
              </option>
            ))}
          </select>
          <FieldError id="plan-organization" message={errors.fields.organizationId} />
        </div>
        <Alert>{errors.rest}</Alert>
        <div className="actions">
          <button type="submit" className="primary">
            Save
          </button>
          <a className="button" href="#/plans">
            Cancel
          </a>
        </div>
      </form>
    </>
  );
}

/** What the plan's Save will send: the switch and each account as the user left them in Advanced settings. */
interface CredentialsDraft {
  additionalCredentialsEnabled: boolean;
  enabled: Record<string, boolean>;
}

const draftOf = (plan: Plan): CredentialsDraft => ({
  additionalCredentialsEnabled: plan.additionalCredentialsEnabled,
  enabled: Object.fromEntries(plan.credentials.map((entry) => [entry.credential.id, entry.enabled])),
});

/** Only what changed, so that the history holds one event per change and nothing for the rest. */
function changesOf(plan: Plan, draft: CredentialsDraft) {
  const credentials = plan.credentials
    .filter((entry) => draft.enabled[entry.credential.id] !== entry.enabled)
    .map((entry) => ({ credentialId: entry.credential.id, enabled: draft.enabled[entry.credential.id]! }));
  const additionalCredentialsEnabled =
    draft.additionalCredentialsEnabled !== plan.additionalCredentialsEnabled ? draft.additionalCredentialsEnabled : undefined;
  return { additionalCredentialsEnabled, credentials };
}

function EditPlan({ id }: { id: string }) {
  const session = useSession();
  const query = useQuery<{ plan: Plan | null }>(docs.plan, { id });
  const plan = query.data?.plan;
  // The panel's draft, kept by its Save until the plan's Save sends it.
  const [kept, setKept] = useState<CredentialsDraft | null>(null);
  const [editing, setEditing] = useState<CredentialsDraft | null>(null);
  const [message, setMessage] = useState<{ kind: 'error' | 'success'; text: string; stale?: boolean } | null>(null);
  const [busy, setBusy] = useState(false);

  if (query.error && !plan) return <Alert>{describeError(query.error)}</Alert>;
  if (!plan) return query.loading ? <p>Loading…</p> : <Alert>No such plan.</Alert>;
  const shown = editing ?? kept ?? draftOf(plan);
  const pending = kept ? changesOf(plan, kept) : null;
  const unsaved = pending !== null && (pending.additionalCredentialsEnabled !== undefined || pending.credentials.length > 0);

  async function save(event: FormEvent) {
    event.preventDefault();
    if (!plan || !pending || !unsaved) return;
    setBusy(true);
    try {
      // One mutation for every change: the history shows them under one correlation id.
      await session.call(docs.updatePlanCredentials, { planId: plan.id, input: pending, v: plan.version });
      setKept(null);
      setMessage({ kind: 'success', text: 'Plan saved.' });
      await query.reload();
    } catch (failure) {
      const stale = failure instanceof ApiError && failure.code === 'CONFLICT';
      setMessage({ kind: 'error', text: describeError(failure), stale });
    } finally {
      setBusy(false);
    }
  }

  async function reloadAfterStale() {
    setKept(null);
    setMessage(null);
    await query.reload();
  }

  return (
    <>
      <div className="page-head">
        <h1>Edit backup plan</h1>
        <div className="row-actions">
          <a className="button" href={`#/plans/${plan.id}/snapshots`}>
            Snapshots
          </a>
          {session.canAudit ? (
            <a className="button" href={`#/audit/${plan.id}`}>
              Audit this plan
            </a>
          ) : null}
        </div>
      </div>
      <form className="form" onSubmit={save} aria-label="Edit backup plan">
        <dl className="facts">
          <dt>Plan name</dt>
          <dd data-plan-name>{plan.name}</dd>
          <dt>Organization</dt>
          <dd>
            <a href={`#/organizations/${plan.organization.id}`}>{plan.organization.name}</a>
          </dd>
        </dl>
        <Section
          title="Advanced settings"
          actions={
            session.canEdit && !editing ? (
              <button type="button" onClick={() => setEditing(shown)} aria-label="Edit advanced settings">
                Edit
              </button>
            ) : null
          }
        >
          <AdvancedSettings plan={plan} draft={shown} onChange={editing ? setEditing : undefined} />
          {editing ? (
            <div className="actions">
              <button
                type="button"
                className="primary"
                onClick={() => {
                  setKept(editing);
                  setEditing(null);
                  setMessage(null);
                }}
              >
                Save
              </button>
              <button type="button" onClick={() => setEditing(null)}>
                Cancel
              </button>
            </div>
          ) : null}
        </Section>
        {unsaved && !editing ? <Alert kind="info">Advanced settings changed: Save the plan to apply them.</Alert> : null}
        {message ? (
          <Alert kind={message.kind}>
            {message.text}{' '}
            {message.stale ? (
              <button type="button" onClick={reloadAfterStale}>
                Reload
              </button>
            ) : null}
          </Alert>
        ) : null}
        {session.canEdit ? (
          <div className="actions">
            <button type="submit" className="primary" disabled={busy || !unsaved || editing !== null}>
              Save
            </button>
            <a className="button" href="#/plans">
              Back to plans
            </a>
          </div>
        ) : null}
      </form>
      <BackupSettingsForm plan={plan} reload={query.reload} />
      <PlanTasks planId={plan.id} />
    </>
  );
}

const RETENTION = [
  { name: 'keepLast', label: 'Keep the newest snapshots of each repository' },
  { name: 'keepDaily', label: 'Keep one a day, for days' },
  { name: 'keepWeekly', label: 'Keep one a week, for weeks' },
  { name: 'keepMonthly', label: 'Keep one a month, for months' },
] as const;

/** Storage, schedule and retention, saved together by updatePlanBackupSettings (a field left empty takes its default). */
function BackupSettingsForm({ plan, reload }: { plan: Plan; reload(): Promise<void> }) {
  const session = useSession();
  const storages = useQuery<{ storages: { id: string; name: string; kind: string; isDefault: boolean }[] }>(docs.storages);
  const settings = plan.backupSettings;
  const [storageId, setStorageId] = useState(settings.storage.id);
  const [schedule, setSchedule] = useState(scheduleDraftOf(settings.schedule));
  const [keep, setKeep] = useState<Record<string, string>>(() =>
    Object.fromEntries(RETENTION.map(({ name }) => [name, settings[name] === null ? '' : String(settings[name])])),
  );
  const [errors, setErrors] = useState<{ fields: Record<string, string>; rest?: string }>({ fields: {} });
  const [saved, setSaved] = useState(false);
  const readOnly = !session.canEdit;

  async function save(event: FormEvent) {
    event.preventDefault();
    setSaved(false);
    const retention = Object.fromEntries(RETENTION.map(({ name }) => [name, keep[name]!.trim() === '' ? null : Number(keep[name]!.trim())]));
    try {
      await session.call(docs.updatePlanBackupSettings, {
        planId: plan.id,
        input: { storageId, schedule: scheduleInput(schedule), ...retention },
        v: plan.version,
      });
      setErrors({ fields: {} });
      setSaved(true);
      await reload();
    } catch (failure) {
      const found = fieldErrors(failure, ['storageId', 'schedule', ...RETENTION.map(({ name }) => name)]);
      setErrors(found.rest ? { ...found, rest: describeError(failure) } : found);
    }
  }

  return (
    <form className="form" onSubmit={save} noValidate aria-label="Backup settings">
      <Section title="Backup settings">
        <div className="field" data-field="storageId">
          <label htmlFor="plan-storage">Storage</label>
          <select id="plan-storage" value={storageId} disabled={readOnly} onChange={(event) => setStorageId(event.target.value)}>
            {(storages.data?.storages ?? [settings.storage]).map((storage) => (
              <option key={storage.id} value={storage.id}>
                {storage.name}
              </option>
            ))}
          </select>
          <FieldError id="plan-storage" message={errors.fields.storageId} />
        </div>
        <ScheduleOptions
          legend="Schedule"
          name="schedule"
          maxMinutes={10080}
          noneLabel="Only when run by hand"
          draft={schedule}
          onChange={setSchedule}
          error={errors.fields.schedule}
          disabled={readOnly}
        />
        {settings.nextRunAt ? <p className="hint">Next run: {when(settings.nextRunAt)}</p> : null}
        <fieldset className="field" disabled={readOnly}>
          <legend>Retention (empty: no limit by that rule)</legend>
          {RETENTION.map(({ name, label }) => (
            <TextField
              key={name}
              label={label}
              name={name}
              value={keep[name]!}
              onChange={(value) => setKeep({ ...keep, [name]: value })}
              error={errors.fields[name]}
            />
          ))}
        </fieldset>
        <Alert>{errors.rest}</Alert>
        {saved ? <Alert kind="success">Backup settings saved.</Alert> : null}
        {readOnly ? null : (
          <div className="actions">
            <button type="submit" className="primary">
              Save backup settings
            </button>
          </div>
        )}
      </Section>
    </form>
  );
}

function AdvancedSettings({ plan, draft, onChange }: { plan: Plan; draft: CredentialsDraft; onChange?(draft: CredentialsDraft): void }) {
  const readOnly = !onChange;
  return (
    <div className="advanced" data-editing={readOnly ? undefined : 'true'}>
      <Switch
        name="additionalCredentialsEnabled"
        label="Additional git credentials"
        checked={draft.additionalCredentialsEnabled}
        disabled={readOnly}
        onChange={(additionalCredentialsEnabled) => onChange?.({ ...draft, additionalCredentialsEnabled })}
      />
      {draft.additionalCredentialsEnabled ? (
        plan.credentials.length === 0 ? (
          <p className="hint">The organization has no additional credential: add one on its page (Additional credentials, Add new).</p>
        ) : (
          <ul className="accounts" aria-label="Additional accounts">
            {plan.credentials.map((entry) => (
              <li key={entry.credential.id} data-account={entry.credential.login}>
                <Switch
                  label={entry.credential.login}
                  checked={draft.enabled[entry.credential.id] ?? false}
                  disabled={readOnly}
                  onChange={(enabled) => onChange?.({ ...draft, enabled: { ...draft.enabled, [entry.credential.id]: enabled } })}
                />
                {entry.credential.status ? <StatusBadge status={entry.credential.status} /> : null}
              </li>
            ))}
          </ul>
        )
      ) : (
        <p className="hint">Off: the plan's backups use the organization's main login only.</p>
      )}
    </div>
  );
}
