import { useEffect, useState, type FormEvent } from 'react';
import { describeError, fieldErrors } from './api';
import { docs, type PasswordEntry, type Restore, type Snapshot } from './documents';
import { Alert, describedBy, FieldError, Section, StatusBadge, TextField, when } from './forms';
import { go, useQuery, useSession } from './session';

const FIELDS = ['namespacePath', 'projectName', 'passwordId'] as const;
/** How often a running restore is read again: the API has no subscription for restores. */
const POLL_MS = 1000;

/** Restore a snapshot into a new GitLab project: the group it goes into, its name, and the token that may write there. */
export function RestorePage({ planId, snapshotId }: { planId: string; snapshotId: string }) {
  const session = useSession();
  const snapshot = useQuery<{ snapshot: Snapshot | null }>(docs.snapshot, { id: snapshotId });
  const passwords = useQuery<{ passwords: PasswordEntry[] }>(docs.passwords);
  const [form, setForm] = useState({ namespacePath: '', projectName: '', passwordId: '' });
  const [errors, setErrors] = useState<{ fields: Record<string, string>; rest?: string }>({ fields: {} });
  const [busy, setBusy] = useState(false);
  const entries = passwords.data?.passwords ?? [];
  const passwordId = form.passwordId || entries[0]?.id || '';
  const shown = snapshot.data?.snapshot;

  async function restore(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    try {
      const { restoreSnapshot } = await session.call<{ restoreSnapshot: Restore }>(docs.restoreSnapshot, {
        input: { snapshotId, target: 'GITLAB_PROJECT', namespacePath: form.namespacePath.trim(), projectName: form.projectName.trim(), passwordId },
      });
      go('plans', planId, 'snapshots', 'restores', restoreSnapshot.id);
    } catch (failure) {
      const found = fieldErrors(failure, FIELDS);
      setErrors(found.rest ? { ...found, rest: describeError(failure) } : found);
    } finally {
      setBusy(false);
    }
  }

  if (!session.canEdit) return <Alert>The {session.me.role} role may not restore snapshots.</Alert>;
  return (
    <>
      <div className="page-head">
        <h1>Restore a snapshot</h1>
        <a className="button" href={`#/plans/${planId}/snapshots`}>
          Back to the snapshots
        </a>
      </div>
      <Alert>{snapshot.error ? describeError(snapshot.error) : null}</Alert>
      {shown ? (
        <p data-restore-of={shown.id}>
          The snapshot of <strong>{shown.fullPath}</strong> taken {when(shown.takenAt)} goes into a new GitLab project: its branches and tags, labels,
          milestones, issues with their notes, and releases. A project that exists is never written to.
        </p>
      ) : null}
      <form className="form" onSubmit={restore} noValidate aria-label="Restore into a new GitLab project">
        <TextField
          label="GitLab group"
          name="namespacePath"
          hint="The full path of the group the new project goes into, such as acme/restored."
          value={form.namespacePath}
          onChange={(namespacePath) => setForm({ ...form, namespacePath })}
          error={errors.fields.namespacePath}
          required
        />
        <TextField
          label="New project's name"
          name="projectName"
          hint="Letters, digits, '_', '-' and '.'; no project of that name may be in the group."
          value={form.projectName}
          onChange={(projectName) => setForm({ ...form, projectName })}
          error={errors.fields.projectName}
          required
        />
        <div className="field" data-field="passwordId">
          <label htmlFor="restore-password">Token that may write to the group (password manager)</label>
          <p className="hint">A GitLab token with the scopes api and write_repository.</p>
          <select
            id="restore-password"
            value={passwordId}
            onChange={(event) => setForm({ ...form, passwordId: event.target.value })}
            {...describedBy('restore-password', errors.fields.passwordId)}
          >
            {entries.map((entry) => (
              <option key={entry.id} value={entry.id}>
                {entry.name} ({entry.fingerprint})
              </option>
            ))}
          </select>
          <FieldError id="restore-password" message={errors.fields.passwordId} />
        </div>
        <Alert>{errors.rest}</Alert>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Starting…' : 'Restore'}
          </button>
          <a className="button" href={`#/plans/${planId}/snapshots`}>
            Cancel
          </a>
        </div>
      </form>
    </>
  );
}

/** A restore's progress, read again until it ends, then what it re-created and what GitLab could not take back. */
export function RestoreStatusPage({ planId, restoreId }: { planId: string; restoreId: string }) {
  const query = useQuery<{ restore: Restore | null }>(docs.restore, { id: restoreId });
  const restore = query.data?.restore;
  const running = restore?.status === 'RUNNING';
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => void query.reload(), POLL_MS);
    return () => clearInterval(timer);
  }, [running, query.reload]);

  if (query.error && !restore) return <Alert>{describeError(query.error)}</Alert>;
  if (!restore) return query.loading ? <p>Loading…</p> : <Alert>No such restore.</Alert>;
  return (
    <div data-restore={restore.id} data-status={restore.status}>
      <div className="page-head">
        <h1>Restore{restore.snapshot ? ` of ${restore.snapshot.fullPath}` : ''}</h1>
        <a className="button" href={`#/plans/${planId}/snapshots`}>
          Back to the snapshots
        </a>
      </div>
      <Section title="Status">
        <dl className="facts">
          <dt>Status</dt>
          <dd data-restore-status aria-live="polite">
            <StatusBadge status={restore.status} />
            {running ? <span className="hint"> step {restore.step ?? 'starting'}</span> : null}
          </dd>
          <dt>Steps</dt>
          <dd>
            <progress max={Math.max(restore.stepsTotal, 1)} value={restore.stepsDone} aria-label="Restore steps done" /> {restore.stepsDone} of{' '}
            {restore.stepsTotal}
          </dd>
          {restore.reason ? (
            <>
              <dt>Why it failed</dt>
              <dd className="field-error">{restore.reason}</dd>
            </>
          ) : null}
          <dt>Into</dt>
          <dd data-restore-project>{restore.projectPath ?? `${restore.namespacePath ?? '—'} (project not made yet)`}</dd>
          <dt>Started</dt>
          <dd>
            {when(restore.startedAt)} by {restore.actor.name ?? 'Backplane'}
          </dd>
          <dt>Ended</dt>
          <dd>{restore.finishedAt ? when(restore.finishedAt) : 'not yet'}</dd>
        </dl>
      </Section>
      {restore.counts ? (
        <Section title="Re-created">
          <dl className="facts" data-restore-counts>
            <dt>Git refs (branches, tags, notes)</dt>
            <dd data-count="refs">{restore.counts.refs}</dd>
            <dt>Labels</dt>
            <dd data-count="labels">{restore.counts.labels}</dd>
            <dt>Milestones</dt>
            <dd data-count="milestones">{restore.counts.milestones}</dd>
            <dt>Issues</dt>
            <dd data-count="issues">{restore.counts.issues}</dd>
            <dt>Issue notes</dt>
            <dd data-count="notes">{restore.counts.notes}</dd>
            <dt>Releases</dt>
            <dd data-count="releases">{restore.counts.releases}</dd>
          </dl>
        </Section>
      ) : null}
      {restore.leftOut ? (
        <Section title="Left in the snapshot's archive">
          <ul>
            <li>
              {restore.leftOut.mergeRequests} merge request{restore.leftOut.mergeRequests === 1 ? '' : 's'} (a restore does not re-create them)
            </li>
            <li>{restore.leftOut.wiki ? 'The wiki (its bundle is in the archive)' : 'No wiki'}</li>
            {restore.leftOut.refs.length > 0 ? <li>Refs GitLab keeps for itself: {restore.leftOut.refs.join(', ')}</li> : null}
          </ul>
        </Section>
      ) : null}
    </div>
  );
}
