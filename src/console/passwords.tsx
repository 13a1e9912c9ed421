import { useId, useState } from 'react';
import { fieldErrors } from './api';
import { docs, type PasswordEntry } from './documents';
import { Alert, describedBy, FieldError, TextField } from './forms';
import { useQuery, useSession } from './session';

/**
 * The password manager inline: pick an entry, or add one (its secret goes to storePassword and is
 * never shown again; the list shows names and fingerprints only).
 */
export function PasswordPicker({ value, onChange, error, name = 'passwordId' }: { value: string; onChange(id: string): void; error?: string; name?: string }) {
  const session = useSession();
  const id = `${useId()}-${name}`;
  const passwords = useQuery<{ passwords: PasswordEntry[] }>(docs.passwords);
  const [adding, setAdding] = useState(false);
  const [entry, setEntry] = useState({ name: '', secret: '' });
  const [errors, setErrors] = useState<{ fields: Record<string, string>; rest?: string }>({ fields: {} });
  const [busy, setBusy] = useState(false);

  async function store() {
    setBusy(true);
    try {
      const { storePassword } = await session.call<{ storePassword: PasswordEntry }>(docs.storePassword, { input: entry });
      await passwords.reload();
      onChange(storePassword.id);
      setEntry({ name: '', secret: '' });
      setErrors({ fields: {} });
      setAdding(false);
    } catch (failure) {
      setErrors(fieldErrors(failure, ['name', 'secret']));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="field password-picker" data-field={name}>
      <label htmlFor={id}>Password</label>
      <div className="inline">
        <select id={id} value={value} onChange={(event) => onChange(event.target.value)} {...describedBy(id, error)}>
          <option value="">Select a password…</option>
          {(passwords.data?.passwords ?? []).map((password) => (
            <option key={password.id} value={password.id}>
              {password.name} ({password.fingerprint})
            </option>
          ))}
        </select>
        {session.canEdit && !adding ? (
          <button type="button" onClick={() => setAdding(true)}>
            Add password
          </button>
        ) : null}
      </div>
      <FieldError id={id} message={error} />
      {adding ? (
        <fieldset className="subform">
          <legend>New password</legend>
          <TextField label="Name" name="password-name" value={entry.name} onChange={(text) => setEntry({ ...entry, name: text })} error={errors.fields.name} />
          <TextField
            label="Personal access token"
            name="password-secret"
            type="password"
            value={entry.secret}
            onChange={(text) => setEntry({ ...entry, secret: text })}
            error={errors.fields.secret}
            hint="Kept encrypted in the password manager; never shown again."
          />
          <Alert>{errors.rest}</Alert>
          <div className="actions">
            <button type="button" className="primary" onClick={store} disabled={busy}>
              Save password
            </button>
            <button type="button" onClick={() => setAdding(false)}>
              Cancel
            </button>
          </div>
        </fieldset>
      ) : null}
    </div>
  );
}
