// Plan: a backup plan of one organization, with its "Additional git credentials" switch and,
// per credential, whether the plan may use it. New credentials and new plans start switched off.
import type { Decider } from './decider';
import { DomainError } from './errors';
import { syncDue } from './organization';

export type PlanEvent =
  | { type: 'PlanCreated'; data: { planId: string; organizationId: string; name: string } }
  | { type: 'PlanAdditionalCredentialsSet'; data: { planId: string; organizationId: string; enabled: boolean } }
  | { type: 'PlanCredentialToggled'; data: { planId: string; organizationId: string; credentialId: string; enabled: boolean } }
  | { type: 'PlanBackupSettingsUpdated'; data: { planId: string; organizationId: string } & PlanBackupSettings }
  | { type: 'PlanDeleted'; data: { planId: string; organizationId: string } };

/** When a plan runs by itself: at times of day (HH:MM, UTC) or every so many minutes. */
export type PlanSchedule = { times: string[] } | { intervalMinutes: number };

/** How many snapshots of each repository a plan keeps, per rule; null: that rule is not used. All null: every snapshot is kept. */
export interface RetentionPolicy {
  keepLast: number | null;
  keepDaily: number | null;
  keepWeekly: number | null;
  keepMonthly: number | null;
}

/** Where a plan's snapshots go, when it runs by itself, and how long its snapshots are kept. */
export interface PlanBackupSettings extends RetentionPolicy {
  storageId: string;
  schedule: PlanSchedule | null;
}

/** A schedule as it comes in: both fields may be given, and are judged here. */
export type PlanScheduleInput = { times?: string[] | null; intervalMinutes?: number | null };

/**
 * A credential as the caller found it: null when it does not exist in the tenant. `onOtherPlans`
 * counts the other active plans that have it switched on.
 */
export type KnownCredential = { organizationId: string; removed: boolean; onOtherPlans: number } | null;

/** The most active plans one credential may be switched on on at once. */
export const PLANS_PER_CREDENTIAL = 10;

export interface CredentialChange {
  credentialId: string;
  enabled: boolean;
  known: KnownCredential;
}

export type PlanCommand =
  | { type: 'CreatePlan'; data: { planId: string; organizationId: string; name: string; known: { organizationActive: boolean; nameTaken: boolean } } }
  | { type: 'SetPlanAdditionalCredentials'; data: { planId: string; enabled: boolean } }
  | { type: 'TogglePlanCredential'; data: { planId: string } & CredentialChange }
  /** The edit panel's Save: every change at once, or none. */
  | { type: 'UpdatePlanCredentials'; data: { planId: string; additionalCredentialsEnabled?: boolean; credentials: CredentialChange[] } }
  /** The credential was removed: whatever the plan had, it no longer uses it. */
  | { type: 'SwitchOffRemovedCredential'; data: { planId: string; credentialId: string } }
  /** The storage is looked up by the caller: whether the tenant has it, and whether the plan is running (its storage is then not changed). */
  | {
      type: 'UpdatePlanBackupSettings';
      data: {
        planId: string;
        storageId: string;
        schedule: PlanScheduleInput | null;
        keepLast: number | null;
        keepDaily: number | null;
        keepWeekly: number | null;
        keepMonthly: number | null;
        known: { storageExists: boolean; currentStorageId: string; planRunning: boolean };
      };
    }
  | { type: 'DeletePlan'; data: { planId: string } };

export interface PlanState {
  status: 'none' | 'active' | 'deleted';
  organizationId: string | null;
  additionalCredentialsEnabled: boolean;
  credentials: Record<string, boolean>;
}

export const plan: Decider<PlanState, PlanCommand, PlanEvent> = {
  initialState: () => ({ status: 'none', organizationId: null, additionalCredentialsEnabled: false, credentials: {} }),
  evolve(state, event) {
    switch (event.type) {
      case 'PlanCreated':
        return { ...state, status: 'active', organizationId: event.data.organizationId };
      case 'PlanAdditionalCredentialsSet':
        return { ...state, additionalCredentialsEnabled: event.data.enabled };
      case 'PlanCredentialToggled':
        return { ...state, credentials: { ...state.credentials, [event.data.credentialId]: event.data.enabled } };
      case 'PlanBackupSettingsUpdated':
        return state;
      case 'PlanDeleted':
        return { ...state, status: 'deleted' };
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'CreatePlan': {
        const { planId, organizationId, known } = command.data;
        const name = command.data.name.trim();
        if (state.status !== 'none') throw new DomainError('CONFLICT', `plan ${planId} already exists`);
        if (name === '') throw new DomainError('INVALID_INPUT', 'a plan needs a name', 'name');
        if (!known.organizationActive) throw new DomainError('NOT_FOUND', `no organization ${organizationId}`, 'organizationId');
        if (known.nameTaken) throw new DomainError('CONFLICT', `a plan named "${name}" already exists`, 'name');
        return [{ type: 'PlanCreated', data: { planId, organizationId, name } }];
      }
      case 'SetPlanAdditionalCredentials': {
        const { planId, enabled } = command.data;
        const organizationId = active(state, planId);
        if (state.additionalCredentialsEnabled === enabled) return [];
        return [{ type: 'PlanAdditionalCredentialsSet', data: { planId, organizationId, enabled } }];
      }
      case 'TogglePlanCredential': {
        const { planId, ...change } = command.data;
        return toggles(state, planId, [change]);
      }
      case 'UpdatePlanCredentials': {
        const { planId, additionalCredentialsEnabled, credentials } = command.data;
        const organizationId = active(state, planId);
        const ids = credentials.map((change) => change.credentialId);
        if (new Set(ids).size !== ids.length) throw new DomainError('INVALID_INPUT', 'each credential may appear once in an update', 'credentials');
        const events: PlanEvent[] = toggles(state, planId, credentials);
        if (additionalCredentialsEnabled !== undefined && additionalCredentialsEnabled !== state.additionalCredentialsEnabled) {
          events.unshift({ type: 'PlanAdditionalCredentialsSet', data: { planId, organizationId, enabled: additionalCredentialsEnabled } });
        }
        return events;
      }
      case 'SwitchOffRemovedCredential': {
        const { planId, credentialId } = command.data;
        if (state.status !== 'active' || state.credentials[credentialId] !== true) return [];
        return [{ type: 'PlanCredentialToggled', data: { planId, organizationId: state.organizationId!, credentialId, enabled: false } }];
      }
      case 'UpdatePlanBackupSettings': {
        const { planId, storageId, schedule, known, ...retention } = command.data;
        const organizationId = active(state, planId);
        if (!known.storageExists) throw new DomainError('NOT_FOUND', `storageId: no storage ${storageId}`, 'storageId');
        if (storageId !== known.currentStorageId && known.planRunning) {
          throw new DomainError('CONFLICT', 'storageId: the plan is running; change its storage when the run has finished', 'storageId');
        }
        for (const [name, value] of Object.entries(retention)) {
          if (value !== null && (!Number.isInteger(value) || value < 1 || value > MAX_KEEP)) {
            throw new DomainError('INVALID_INPUT', `${name} must be a whole number from 1 to ${MAX_KEEP}, or null for no limit`, name);
          }
        }
        return [{ type: 'PlanBackupSettingsUpdated', data: { planId, organizationId, storageId, schedule: checkedSchedule(schedule), ...retention } }];
      }
      case 'DeletePlan': {
        const { planId } = command.data;
        return [{ type: 'PlanDeleted', data: { planId, organizationId: active(state, planId) } }];
      }
    }
  },
};

/** The most snapshots one retention rule may keep. */
export const MAX_KEEP = 10_000;

const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

function checkedSchedule(schedule: PlanScheduleInput | null): PlanSchedule | null {
  if (schedule === null) return null;
  const { times, intervalMinutes } = schedule;
  const hasTimes = times !== undefined && times !== null;
  const hasInterval = intervalMinutes !== undefined && intervalMinutes !== null;
  if (hasTimes && hasInterval) throw new DomainError('INVALID_INPUT', 'schedule takes times or intervalMinutes, not both', 'schedule');
  if (hasTimes) {
    if (times.length < 1 || times.length > 24) throw new DomainError('INVALID_INPUT', 'schedule.times takes 1 to 24 times of day', 'schedule.times');
    const bad = times.find((time) => !TIME.test(time));
    if (bad !== undefined) throw new DomainError('INVALID_INPUT', `schedule.times: "${bad}" is not a time of day as HH:MM (UTC)`, 'schedule.times');
    if (new Set(times).size !== times.length) throw new DomainError('INVALID_INPUT', 'schedule.times must be distinct', 'schedule.times');
    return { times: [...times].sort() };
  }
  if (hasInterval) {
    if (!Number.isInteger(intervalMinutes) || intervalMinutes < 15 || intervalMinutes > 10_080) {
      throw new DomainError('INVALID_INPUT', 'schedule.intervalMinutes must be a whole number from 15 to 10080', 'schedule.intervalMinutes');
    }
    return { intervalMinutes };
  }
  // An empty schedule is no schedule: the plan runs when asked.
  return null;
}

/**
 * Whether a scheduled plan is due at `now`: `since` is its last run's start, or when the schedule
 * was set if later. However many slots went by (a process that was down), one run covers them.
 */
export function planRunDue(schedule: PlanSchedule | null, since: Date, now: Date): boolean {
  return schedule !== null && syncDue(schedule, since, now);
}

/** When the plan runs next by its schedule: `now` when it is due, null without a schedule. */
export function nextPlanRunAt(schedule: PlanSchedule | null, since: Date, now: Date): Date | null {
  if (schedule === null) return null;
  if (planRunDue(schedule, since, now)) return now;
  if ('intervalMinutes' in schedule) return new Date(since.getTime() + schedule.intervalMinutes * 60_000);
  const slots = schedule.times.map((time) => {
    const [hours, minutes] = time.split(':').map(Number);
    const slot = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hours, minutes);
    return slot > now.getTime() ? slot : slot + 86_400_000;
  });
  return new Date(Math.min(...slots));
}

function active(state: PlanState, planId: string): string {
  if (state.status !== 'active') throw new DomainError('NOT_FOUND', `no plan ${planId}`);
  return state.organizationId!;
}

function toggles(state: PlanState, planId: string, changes: CredentialChange[]): PlanEvent[] {
  const organizationId = active(state, planId);
  const events: PlanEvent[] = [];
  for (const { credentialId, enabled, known } of changes) {
    if (known === null || known.organizationId !== organizationId) {
      throw new DomainError('NOT_FOUND', `no credential ${credentialId} in the plan's organization`);
    }
    if (known.removed && enabled) throw new DomainError('CONFLICT', `credential ${credentialId} was removed`);
    if ((state.credentials[credentialId] ?? false) === enabled) continue;
    if (enabled && known.onOtherPlans >= PLANS_PER_CREDENTIAL) {
      throw new DomainError(
        'CONFLICT',
        `a credential may be switched on on at most ${PLANS_PER_CREDENTIAL} plans, and credential ${credentialId} is on ${known.onOtherPlans} others`,
      );
    }
    events.push({ type: 'PlanCredentialToggled', data: { planId, organizationId, credentialId, enabled } });
  }
  return events;
}

/**
 * The credentials the plan lets a run use: switched on while its "Additional git credentials"
 * switch is on. (A credential must also not be removed: its own stream says so.)
 */
export function switchedOnCredentials(state: PlanState): string[] {
  if (state.status !== 'active' || !state.additionalCredentialsEnabled) return [];
  return Object.keys(state.credentials).filter((id) => state.credentials[id]);
}

export const planStream = (planId: string) => `plan-${planId}`;
