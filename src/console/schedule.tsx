import { useId } from 'react';
import { describedBy, FieldError } from './forms';

/** Set times of day (UTC), an interval, or (for a plan) none: an organization's list sync and a plan's schedule alike. */
export interface ScheduleDraft {
  mode: 'none' | 'times' | 'interval';
  times: string;
  intervalMinutes: string;
}

export const scheduleDraftOf = (schedule: { times?: string[] | null; intervalMinutes?: number | null } | null): ScheduleDraft => ({
  mode: !schedule ? 'none' : schedule.intervalMinutes ? 'interval' : 'times',
  times: (schedule?.times ?? ['02:00']).join(', '),
  intervalMinutes: String(schedule?.intervalMinutes ?? 60),
});

/** As the API takes it; what the user typed goes as is, so that the API's own message names what is wrong. */
export function scheduleInput(draft: ScheduleDraft): { times: string[] } | { intervalMinutes: number } | null {
  if (draft.mode === 'none') return null;
  if (draft.mode === 'interval') return { intervalMinutes: Number(draft.intervalMinutes.trim()) };
  return {
    times: draft.times
      .split(/[\s,]+/)
      .map((time) => time.trim())
      .filter(Boolean),
  };
}

interface ScheduleOptionsProps {
  legend: string;
  /** The input's field, for the API's messages. */
  name: string;
  maxMinutes: number;
  draft: ScheduleDraft;
  onChange(draft: ScheduleDraft): void;
  error?: string;
  disabled?: boolean;
  /** The label of the "no schedule" choice; absent: there is none. */
  noneLabel?: string;
}

export function ScheduleOptions({ legend, name, maxMinutes, draft, onChange, error, disabled, noneLabel }: ScheduleOptionsProps) {
  const id = useId();
  const errorAt = `${id}-schedule`;
  const choice = (mode: ScheduleDraft['mode'], label: string) => (
    <div className="radio">
      <input type="radio" id={`${id}-${mode}`} name={`${id}-mode`} checked={draft.mode === mode} onChange={() => onChange({ ...draft, mode })} />
      <label htmlFor={`${id}-${mode}`}>{label}</label>
    </div>
  );
  return (
    <fieldset className="field" data-field={name} disabled={disabled}>
      <legend>{legend}</legend>
      {noneLabel ? choice('none', noneLabel) : null}
      {choice('times', 'At set times of day')}
      {draft.mode === 'times' ? (
        <div className="nested">
          <label htmlFor={`${id}-times-value`}>Times (HH:MM, UTC, separated by commas)</label>
          <input
            id={`${id}-times-value`}
            value={draft.times}
            onChange={(event) => onChange({ ...draft, times: event.target.value })}
            {...describedBy(errorAt, error)}
          />
        </div>
      ) : null}
      {choice('interval', 'At an interval')}
      {draft.mode === 'interval' ? (
        <div className="nested">
          <label htmlFor={`${id}-interval-value`}>Every (minutes, 15 to {maxMinutes})</label>
          <input
            id={`${id}-interval-value`}
            inputMode="numeric"
            value={draft.intervalMinutes}
            onChange={(event) => onChange({ ...draft, intervalMinutes: event.target.value })}
            {...describedBy(errorAt, error)}
          />
        </div>
      ) : null}
      <FieldError id={errorAt} message={error} />
    </fieldset>
  );
}
