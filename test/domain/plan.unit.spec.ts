import { fold } from '../../src/core/decider';
import {
  nextPlanRunAt,
  plan,
  planRunDue,
  PLANS_PER_CREDENTIAL,
  switchedOnCredentials,
  type CredentialChange,
  type KnownCredential,
  type PlanCommand,
  type PlanEvent,
} from '../../src/domain/plan';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(plan);

type CreateData = Extract<PlanCommand, { type: 'CreatePlan' }>['data'];
const createPlan = (overrides: Partial<CreateData> = {}): PlanCommand => ({
  type: 'CreatePlan',
  data: { planId: 'pl1', organizationId: 'o1', name: 'nightly', known: { organizationActive: true, nameTaken: false }, ...overrides },
});
const setSwitch = (enabled: boolean): PlanCommand => ({ type: 'SetPlanAdditionalCredentials', data: { planId: 'pl1', enabled } });
const ours: KnownCredential = { organizationId: 'o1', removed: false, onOtherPlans: 0 };
const oursRemoved: KnownCredential = { organizationId: 'o1', removed: true, onOtherPlans: 0 };
const theirs: KnownCredential = { organizationId: 'o2', removed: false, onOtherPlans: 0 };
const onOthers = (onOtherPlans: number): KnownCredential => ({ organizationId: 'o1', removed: false, onOtherPlans });
const cred = (credentialId: string, enabled: boolean, known: KnownCredential = ours): CredentialChange => ({ credentialId, enabled, known });
const toggle = (change: CredentialChange): PlanCommand => ({ type: 'TogglePlanCredential', data: { planId: 'pl1', ...change } });
const update = (credentials: CredentialChange[], additionalCredentialsEnabled?: boolean): PlanCommand => ({
  type: 'UpdatePlanCredentials',
  data: { planId: 'pl1', credentials, ...(additionalCredentialsEnabled === undefined ? {} : { additionalCredentialsEnabled }) },
});
const switchOff = (credentialId: string): PlanCommand => ({ type: 'SwitchOffRemovedCredential', data: { planId: 'pl1', credentialId } });
const deletePlan: PlanCommand = { type: 'DeletePlan', data: { planId: 'pl1' } };

const created: PlanEvent = { type: 'PlanCreated', data: { planId: 'pl1', organizationId: 'o1', name: 'nightly' } };
const switched = (enabled: boolean): PlanEvent => ({ type: 'PlanAdditionalCredentialsSet', data: { planId: 'pl1', organizationId: 'o1', enabled } });
const toggled = (credentialId: string, enabled: boolean): PlanEvent => ({
  type: 'PlanCredentialToggled',
  data: { planId: 'pl1', organizationId: 'o1', credentialId, enabled },
});
const deleted: PlanEvent = { type: 'PlanDeleted', data: { planId: 'pl1', organizationId: 'o1' } };

describe('plan', () => {
  describe('CreatePlan', () => {
    it('creates a plan with a trimmed name', () => {
      spec
        .given([])
        .when(createPlan({ name: '  nightly ' }))
        .then([created]);
    });

    it.each<[string, PlanEvent[]]>([
      ['active', [created]],
      ['deleted', [created, deleted]],
    ])('refuses an id already %s', (_status, history) => {
      spec
        .given(history)
        .when(createPlan())
        .thenRefuses('CONFLICT', /plan pl1 already exists/);
    });

    it.each(['', '   '])('refuses a blank name %j', (name) => {
      spec
        .given([])
        .when(createPlan({ name }))
        .thenRefuses('INVALID_INPUT', /needs a name/);
    });

    it('refuses an organization that is not active', () => {
      spec
        .given([])
        .when(createPlan({ known: { organizationActive: false, nameTaken: false } }))
        .thenRefuses('NOT_FOUND', /no organization o1/);
    });

    it('refuses a name another plan has', () => {
      spec
        .given([])
        .when(createPlan({ name: ' nightly ', known: { organizationActive: true, nameTaken: true } }))
        .thenRefuses('CONFLICT', /plan named "nightly" already exists/);
    });
  });

  describe('SetPlanAdditionalCredentials', () => {
    it('starts a new plan with the switch off', () => {
      spec.given([created]).when(setSwitch(false)).then([]);
      spec
        .given([created])
        .when(setSwitch(true))
        .then([switched(true)]);
    });

    it('switches back off, and writes nothing when the switch already has the value', () => {
      spec
        .given([created, switched(true)])
        .when(setSwitch(false))
        .then([switched(false)]);
      spec
        .given([created, switched(true)])
        .when(setSwitch(true))
        .then([]);
    });
  });

  describe('TogglePlanCredential', () => {
    it('enables a credential of the organization, and disables it again', () => {
      spec
        .given([created])
        .when(toggle(cred('c1', true)))
        .then([toggled('c1', true)]);
      spec
        .given([created, toggled('c1', true)])
        .when(toggle(cred('c1', false)))
        .then([toggled('c1', false)]);
    });

    it.each<[string, PlanEvent[], CredentialChange]>([
      ['disabling a credential never enabled', [created], cred('c1', false)],
      ['enabling an enabled credential', [created, toggled('c1', true)], cred('c1', true)],
      ['disabling a removed credential that is off', [created], cred('c1', false, oursRemoved)],
    ])('writes nothing when %s', (_case, history, change) => {
      spec.given(history).when(toggle(change)).then([]);
    });

    it('disables a removed credential that is still on', () => {
      spec
        .given([created, toggled('c1', true)])
        .when(toggle(cred('c1', false, oursRemoved)))
        .then([toggled('c1', false)]);
    });

    it('refuses to enable a removed credential', () => {
      spec
        .given([created])
        .when(toggle(cred('c1', true, oursRemoved)))
        .thenRefuses('CONFLICT', /credential c1 was removed/);
    });

    it.each<[string, KnownCredential, boolean]>([
      ['unknown', null, true],
      ['unknown', null, false],
      ['of another organization', theirs, true],
      ['of another organization', theirs, false],
    ])('refuses a credential %s (enabled: %s)', (_case, known, enabled) => {
      spec
        .given([created])
        .when(toggle(cred('c1', enabled, known)))
        .thenRefuses('NOT_FOUND', /no credential c1 in the plan's organization/);
    });
  });

  describe(`a credential on at most ${PLANS_PER_CREDENTIAL} plans`, () => {
    it('switches on a credential that is on one plan fewer than the most elsewhere', () => {
      spec
        .given([created])
        .when(toggle(cred('c1', true, onOthers(PLANS_PER_CREDENTIAL - 1))))
        .then([toggled('c1', true)]);
    });

    it.each([PLANS_PER_CREDENTIAL, PLANS_PER_CREDENTIAL + 1])('refuses to switch on a credential that is on %i other plans, naming the limit', (count) => {
      spec
        .given([created])
        .when(toggle(cred('c1', true, onOthers(count))))
        .thenRefuses('CONFLICT', new RegExp(`at most ${PLANS_PER_CREDENTIAL} plans, and credential c1 is on ${count} others`));
    });

    it('refuses the whole update when one credential would go over the limit', () => {
      spec
        .given([created])
        .when(update([cred('c1', true), cred('c2', true, onOthers(PLANS_PER_CREDENTIAL))], true))
        .thenRefuses('CONFLICT', /at most 10 plans, and credential c2/);
    });

    it('keeps on, and switches off, a credential however many plans have it', () => {
      spec
        .given([created, toggled('c1', true)])
        .when(toggle(cred('c1', true, onOthers(PLANS_PER_CREDENTIAL))))
        .then([]);
      spec
        .given([created, toggled('c1', true)])
        .when(toggle(cred('c1', false, onOthers(PLANS_PER_CREDENTIAL))))
        .then([toggled('c1', false)]);
    });
  });

  describe('UpdatePlanCredentials', () => {
    it('writes the switch first, then one event per credential that actually changes', () => {
      spec
        .given([created, toggled('c2', true)])
        .when(update([cred('c1', true), cred('c2', true), cred('c3', false), cred('c4', true)], true))
        .then([switched(true), toggled('c1', true), toggled('c4', true)]);
    });

    it('leaves the switch alone when it is not asked for or already has the value', () => {
      spec
        .given([created])
        .when(update([cred('c1', true)]))
        .then([toggled('c1', true)]);
      spec
        .given([created])
        .when(update([cred('c1', true)], false))
        .then([toggled('c1', true)]);
    });

    it('writes only the switch when no credential is given', () => {
      spec
        .given([created, switched(true)])
        .when(update([], false))
        .then([switched(false)]);
    });

    it('writes nothing when nothing changes', () => {
      spec
        .given([created, switched(true), toggled('c1', true)])
        .when(update([cred('c1', true), cred('c2', false)], true))
        .then([]);
    });

    it('refuses a credential that appears twice', () => {
      spec
        .given([created])
        .when(update([cred('c1', true), cred('c2', true), cred('c1', false)]))
        .thenRefuses('INVALID_INPUT', /each credential may appear once/);
    });

    // The panel saves all or nothing: one bad row refuses the whole update, switch included.
    it.each<[string, CredentialChange, string, RegExp]>([
      ['a credential of another organization', cred('c2', true, theirs), 'NOT_FOUND', /no credential c2/],
      ['an unknown credential', cred('c2', false, null), 'NOT_FOUND', /no credential c2/],
      ['enabling a removed credential', cred('c2', true, oursRemoved), 'CONFLICT', /credential c2 was removed/],
    ])('refuses the whole update for %s', (_case, bad, code, message) => {
      spec
        .given([created])
        .when(update([cred('c1', true), bad], true))
        .thenRefuses(code, message);
    });
  });

  describe('SwitchOffRemovedCredential', () => {
    it('switches off a credential the plan had on', () => {
      spec
        .given([created, toggled('c1', true)])
        .when(switchOff('c1'))
        .then([toggled('c1', false)]);
    });

    it.each<[string, PlanEvent[]]>([
      ['the plan never had it', [created]],
      ['the plan had it off again', [created, toggled('c1', true), toggled('c1', false)]],
      ['the plan does not exist', []],
      ['the plan was deleted', [created, toggled('c1', true), deleted]],
    ])('writes nothing when %s', (_case, history) => {
      spec.given(history).when(switchOff('c1')).then([]);
    });
  });

  describe('DeletePlan', () => {
    it('deletes an active plan', () => {
      spec.given([created]).when(deletePlan).then([deleted]);
    });
  });

  it.each<[string, PlanCommand]>([
    ['SetPlanAdditionalCredentials', setSwitch(true)],
    ['TogglePlanCredential', toggle(cred('c1', true))],
    ['UpdatePlanCredentials', update([], true)],
    ['DeletePlan', deletePlan],
  ])('refuses %s on a plan that does not exist or was deleted', (_name, command) => {
    spec
      .given([])
      .when(command)
      .thenRefuses('NOT_FOUND', /no plan pl1/);
    spec
      .given([created, switched(true), deleted])
      .when(command)
      .thenRefuses('NOT_FOUND', /no plan pl1/);
  });
});

describe('switchedOnCredentials', () => {
  const of = (events: PlanEvent[]) => switchedOnCredentials(fold(plan, events));

  it('names the credentials switched on while the additional credentials switch is on', () => {
    expect(of([created, switched(true), toggled('c1', true), toggled('c2', true), toggled('c2', false)])).toEqual(['c1']);
  });

  it('names none while the switch is off, or once the plan is deleted', () => {
    expect(of([created, toggled('c1', true)])).toEqual([]);
    expect(of([created, switched(true), toggled('c1', true), switched(false)])).toEqual([]);
    expect(of([created, switched(true), toggled('c1', true), deleted])).toEqual([]);
  });
});

describe("a plan's backup settings", () => {
  type SettingsData = Extract<PlanCommand, { type: 'UpdatePlanBackupSettings' }>['data'];
  const known = { storageExists: true, currentStorageId: 'st0', planRunning: false };
  const settings = (overrides: Partial<SettingsData> = {}): PlanCommand => ({
    type: 'UpdatePlanBackupSettings',
    data: { planId: 'pl1', storageId: 'st1', schedule: null, keepLast: null, keepDaily: null, keepWeekly: null, keepMonthly: null, known, ...overrides },
  });
  const updated = (data: Partial<Extract<PlanEvent, { type: 'PlanBackupSettingsUpdated' }>['data']> = {}): PlanEvent => ({
    type: 'PlanBackupSettingsUpdated',
    data: {
      planId: 'pl1',
      organizationId: 'o1',
      storageId: 'st1',
      schedule: null,
      keepLast: null,
      keepDaily: null,
      keepWeekly: null,
      keepMonthly: null,
      ...data,
    },
  });

  it('sets storage, schedule and retention in one event; times are kept sorted', () => {
    spec
      .given([created])
      .when(settings({ schedule: { times: ['14:00', '02:30'] }, keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 12 }))
      .then([updated({ schedule: { times: ['02:30', '14:00'] }, keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 12 })]);
    spec
      .given([created])
      .when(settings({ schedule: { intervalMinutes: 10_080, times: null } }))
      .then([updated({ schedule: { intervalMinutes: 10_080 } })]);
    // Unset everywhere: the default storage's id as given, no schedule, no limit.
    spec.given([created]).when(settings()).then([updated()]);
    spec
      .given([created])
      .when(settings({ schedule: {} }))
      .then([updated()]);
  });

  it('refuses a schedule that is not one: bad times, both kinds, an interval out of range', () => {
    spec
      .given([created])
      .when(settings({ schedule: { times: ['24:00'] } }))
      .thenRefuses('INVALID_INPUT', /schedule\.times: "24:00"/);
    spec
      .given([created])
      .when(settings({ schedule: { times: ['7:00'] } }))
      .thenRefuses('INVALID_INPUT', /HH:MM/);
    spec
      .given([created])
      .when(settings({ schedule: { times: [] } }))
      .thenRefuses('INVALID_INPUT', /1 to 24/);
    const many = Array.from({ length: 25 }, (_, i) => `${String(i % 24).padStart(2, '0')}:${i < 24 ? '00' : '30'}`);
    spec
      .given([created])
      .when(settings({ schedule: { times: many } }))
      .thenRefuses('INVALID_INPUT', /1 to 24/);
    spec
      .given([created])
      .when(settings({ schedule: { times: ['02:00', '02:00'] } }))
      .thenRefuses('INVALID_INPUT', /distinct/);
    spec
      .given([created])
      .when(settings({ schedule: { times: ['02:00'], intervalMinutes: 60 } }))
      .thenRefuses('INVALID_INPUT', /not both/);
    spec
      .given([created])
      .when(settings({ schedule: { intervalMinutes: 14 } }))
      .thenRefuses('INVALID_INPUT', /intervalMinutes/);
    spec
      .given([created])
      .when(settings({ schedule: { intervalMinutes: 10_081 } }))
      .thenRefuses('INVALID_INPUT', /15 to 10080/);
    spec
      .given([created])
      .when(settings({ schedule: { intervalMinutes: 30.5 } }))
      .thenRefuses('INVALID_INPUT', /whole number/);
  });

  it('refuses a retention rule that keeps nothing, or is not a whole number up to 10000', () => {
    spec
      .given([created])
      .when(settings({ keepLast: 0 }))
      .thenRefuses('INVALID_INPUT', /keepLast/);
    spec
      .given([created])
      .when(settings({ keepDaily: -1 }))
      .thenRefuses('INVALID_INPUT', /keepDaily/);
    spec
      .given([created])
      .when(settings({ keepWeekly: 1.5 }))
      .thenRefuses('INVALID_INPUT', /keepWeekly/);
    spec
      .given([created])
      .when(settings({ keepMonthly: 10_001 }))
      .thenRefuses('INVALID_INPUT', /keepMonthly must be a whole number from 1 to 10000/);
  });

  it('refuses a storage the tenant does not have, a plan that is not there, and a new storage while the plan runs', () => {
    spec
      .given([created])
      .when(settings({ known: { ...known, storageExists: false } }))
      .thenRefuses('NOT_FOUND', /storageId: no storage st1/);
    spec.given([]).when(settings()).thenRefuses('NOT_FOUND');
    spec.given([created, deleted]).when(settings()).thenRefuses('NOT_FOUND');
    spec
      .given([created])
      .when(settings({ known: { ...known, planRunning: true } }))
      .thenRefuses('CONFLICT', /running/);
    // The same storage, while it runs: retention and schedule may change.
    spec
      .given([created])
      .when(settings({ keepLast: 2, known: { ...known, currentStorageId: 'st1', planRunning: true } }))
      .then([updated({ keepLast: 2 })]);
  });
});

describe("a plan's schedule", () => {
  const at = (iso: string) => new Date(iso);

  it('is never due without a schedule', () => {
    expect(planRunDue(null, at('2026-03-01T00:00:00Z'), at('2027-03-01T00:00:00Z'))).toBe(false);
    expect(nextPlanRunAt(null, at('2026-03-01T00:00:00Z'), at('2026-03-01T00:00:00Z'))).toBeNull();
  });

  it('with an interval, is due once it has gone by since the last run or the setting', () => {
    const since = at('2026-03-01T10:00:00Z');
    expect(planRunDue({ intervalMinutes: 60 }, since, at('2026-03-01T10:59:59Z'))).toBe(false);
    expect(nextPlanRunAt({ intervalMinutes: 60 }, since, at('2026-03-01T10:30:00Z'))).toEqual(at('2026-03-01T11:00:00Z'));
    expect(planRunDue({ intervalMinutes: 60 }, since, at('2026-03-01T11:00:00Z'))).toBe(true);
  });

  it('with times, is due once a slot has passed since; three days missed make one due run, not three', () => {
    const schedule = { times: ['02:00', '14:00'] };
    const since = at('2026-03-01T02:00:30Z');
    expect(planRunDue(schedule, since, at('2026-03-01T13:59:00Z'))).toBe(false);
    expect(nextPlanRunAt(schedule, since, at('2026-03-01T13:59:00Z'))).toEqual(at('2026-03-01T14:00:00Z'));
    expect(nextPlanRunAt(schedule, since, at('2026-03-01T14:00:00Z'))).toEqual(at('2026-03-01T14:00:00Z'));
    const afterRestart = at('2026-03-04T09:00:00Z');
    expect(planRunDue(schedule, since, afterRestart)).toBe(true);
    expect(nextPlanRunAt(schedule, since, afterRestart)).toEqual(afterRestart);
    // The one run it makes serves every missed slot: next due at the next slot.
    expect(planRunDue(schedule, afterRestart, at('2026-03-04T13:59:59Z'))).toBe(false);
    expect(nextPlanRunAt(schedule, afterRestart, afterRestart)).toEqual(at('2026-03-04T14:00:00Z'));
    expect(nextPlanRunAt(schedule, at('2026-03-04T14:00:01Z'), at('2026-03-04T20:00:00Z'))).toEqual(at('2026-03-05T02:00:00Z'));
  });
});
