// Plan: a backup plan of one organization, with its "Additional git credentials" switch and,
// per credential, whether the plan may use it. New credentials and new plans start switched off.
import type { Decider } from './decider';
import { DomainError } from './errors';

export type PlanEvent =
  | { type: 'PlanCreated'; data: { planId: string; organizationId: string; name: string } }
  | { type: 'PlanAdditionalCredentialsSet'; data: { planId: string; organizationId: string; enabled: boolean } }
  | { type: 'PlanCredentialToggled'; data: { planId: string; organizationId: string; credentialId: string; enabled: boolean } }
  | { type: 'PlanDeleted'; data: { planId: string; organizationId: string } };

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
        if (name === '') throw new DomainError('INVALID_INPUT', 'a plan needs a name');
        if (!known.organizationActive) throw new DomainError('NOT_FOUND', `no organization ${organizationId}`);
        if (known.nameTaken) throw new DomainError('CONFLICT', `a plan named "${name}" already exists`);
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
        if (new Set(ids).size !== ids.length) throw new DomainError('INVALID_INPUT', 'each credential may appear once in an update');
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
      case 'DeletePlan': {
        const { planId } = command.data;
        return [{ type: 'PlanDeleted', data: { planId, organizationId: active(state, planId) } }];
      }
    }
  },
};

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
