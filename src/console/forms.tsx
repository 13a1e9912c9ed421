import { useId, type ReactNode } from 'react';
import { describeError } from './api';

/** The id of a field's error text, so that the control names it in aria-describedby. */
const errorId = (id: string) => `${id}-error`;

export function FieldError({ id, message }: { id: string; message?: string }) {
  if (!message) return null;
  return (
    <p className="field-error" id={errorId(id)} data-field-error>
      {message}
    </p>
  );
}

/** Attributes tying a control to its error text. */
export function describedBy(id: string, message?: string) {
  return message ? { 'aria-invalid': true as const, 'aria-describedby': errorId(id) } : {};
}

interface TextFieldProps {
  label: string;
  name: string;
  value: string;
  onChange(value: string): void;
  error?: string;
  type?: 'text' | 'password' | 'url' | 'number';
  hint?: string;
  autoComplete?: string;
  required?: boolean;
}

export function TextField({ label, name, value, onChange, error, type = 'text', hint, autoComplete = 'off', required }: TextFieldProps) {
  const id = `${useId()}-${name}`;
  return (
    <div className="field" data-field={name}>
      <label htmlFor={id}>
        {label}
        {required ? <span aria-hidden="true"> *</span> : null}
      </label>
      {hint ? <p className="hint">{hint}</p> : null}
      <input
        id={id}
        name={name}
        type={type}
        value={value}
        autoComplete={autoComplete}
        spellCheck={false}
        required={required}
        onChange={(event) => onChange(event.target.value)}
        {...describedBy(id, error)}
      />
      <FieldError id={id} message={error} />
    </div>
  );
}

/** An on/off switch: a button with role="switch", so that keyboards and screen readers treat it as one. */
export function Switch({
  label,
  checked,
  onChange,
  disabled,
  name,
}: {
  label: string;
  checked: boolean;
  onChange(value: boolean): void;
  disabled?: boolean;
  name?: string;
}) {
  const id = useId();
  return (
    <div className="switch-row" data-field={name}>
      <button
        type="button"
        role="switch"
        id={id}
        className="switch"
        aria-checked={checked}
        aria-labelledby={`${id}-label`}
        disabled={disabled}
        onClick={() => onChange(!checked)}
      >
        <span className="knob" aria-hidden="true" />
      </button>
      <span id={`${id}-label`} className="switch-label">
        {label}
      </span>
    </div>
  );
}

export function Alert({ children, kind = 'error' }: { children: ReactNode; kind?: 'error' | 'info' | 'success' }) {
  if (!children) return null;
  return (
    <p className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </p>
  );
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  const id = useId();
  return (
    <section className="section" aria-labelledby={id}>
      <div className="section-head">
        <h2 id={id}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status.toLowerCase()}`}>{status.replace(/_/g, ' ')}</span>;
}

export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : '—';
}

/** A list page: its heading, the Add link for those who may edit, and the loading, error and empty states around the table. */
export function ListPage(props: {
  title: string;
  add?: { href: string; label: string };
  error?: unknown;
  loading: boolean;
  count?: number;
  empty: string;
  children: ReactNode;
}) {
  return (
    <>
      <div className="page-head">
        <h1>{props.title}</h1>
        {props.add ? (
          <a className="button primary" href={props.add.href}>
            {props.add.label}
          </a>
        ) : null}
      </div>
      <Alert>{props.error ? describeError(props.error) : null}</Alert>
      {props.loading ? <p>Loading…</p> : null}
      {props.count === 0 ? <p>{props.empty}</p> : null}
      {props.count ? props.children : null}
    </>
  );
}
