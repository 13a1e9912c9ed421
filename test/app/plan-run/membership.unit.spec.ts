import { fold } from '../../../src/core/decider';
import { credential, type CredentialEvent } from '../../../src/domain/credential';
import { plan, type PlanEvent } from '../../../src/domain/plan';
import { credentialsToRead, MAIN, mayRequest, membershipChanges, type MembershipFacts } from '../../../src/app/plan-run/membership';

const ref = { planId: 'pl1', organizationId: 'o1' };
const created: PlanEvent = { type: 'PlanCreated', data: { ...ref, name: 'nightly' } };
const switched = (enabled: boolean): PlanEvent => ({ type: 'PlanAdditionalCredentialsSet', data: { ...ref, enabled } });
const toggled = (credentialId: string, enabled: boolean): PlanEvent => ({ type: 'PlanCredentialToggled', data: { ...ref, credentialId, enabled } });
const deleted: PlanEvent = { type: 'PlanDeleted', data: ref };
const added = (credentialId: string): CredentialEvent => ({
  type: 'CredentialAdded',
  data: { credentialId, organizationId: 'o1', login: `${credentialId}-login`, passwordId: `pw-${credentialId}`, access: null },
});
const removed = (credentialId: string): CredentialEvent => ({ type: 'CredentialRemoved', data: { credentialId, organizationId: 'o1' } });
const failed = (credentialId: string): CredentialEvent => ({
  type: 'CredentialVerificationFailed',
  data: { credentialId, organizationId: 'o1', failure: 'REVOKED', reason: 'GitLab answered 401' },
});

/** A plan with its additional credentials switch on, and c1 and c2 switched on. */
const bothOn = [created, switched(true), toggled('c1', true), toggled('c2', true)];
const bothAdded = { c1: [added('c1')], c2: [added('c2')] };

/** given(the plan's events, each credential's events, who GitLab refused during the run) */
function given(planEvents: PlanEvent[], credentials: Record<string, CredentialEvent[]> = bothAdded, refused: string[] = []) {
  const facts: MembershipFacts = {
    plan: fold(plan, planEvents),
    credentials: new Map(Object.entries(credentials).map(([id, events]) => [id, fold(credential, events)])),
    unusable: new Set(refused),
  };
  return {
    thenMembers: (...expected: string[]) => expect([MAIN, 'c1', 'c2'].filter((key) => mayRequest(key, facts))).toEqual(expected),
    whenPoolHas: (...members: string[]) => ({
      thenChanges: (expected: { leave: string[]; join: string[] }) => expect(membershipChanges(members, facts)).toEqual(expected),
      thenReads: (...ids: string[]) => expect(credentialsToRead(facts.plan, members, facts.unusable)).toEqual(ids),
    }),
  };
}

describe('plan run membership: who may make the next request', () => {
  describe('the main login', () => {
    it.each<[string, PlanEvent[]]>([
      ['no credential switched on', [created]],
      ['the additional credentials switch off', [created, toggled('c1', true)]],
      ['the plan deleted', [...bothOn, deleted]],
    ])('is always a member: %s', (_case, history) => {
      given(history).thenMembers(MAIN);
    });

    it('leaves once GitLab refused it, credentials staying', () => {
      given(bothOn, bothAdded, [MAIN]).thenMembers('c1', 'c2');
    });
  });

  describe('a credential', () => {
    it('switched on while the switch is on, and not removed, is a member', () => {
      given(bothOn).thenMembers(MAIN, 'c1', 'c2');
    });

    it.each<[string, PlanEvent[], Record<string, CredentialEvent[]>, string[]]>([
      ['switched off in the plan', [...bothOn, toggled('c1', false)], bothAdded, []],
      ['never switched on', [created, switched(true), toggled('c2', true)], bothAdded, []],
      ['removed, the plan not yet told', bothOn, { c1: [added('c1'), removed('c1')], c2: [added('c2')] }, []],
      ['refused by GitLab during the run', bothOn, bothAdded, ['c1']],
      ['not read yet', bothOn, { c2: [added('c2')] }, []],
      ['unknown to the log', bothOn, { c1: [], c2: [added('c2')] }, []],
    ])('is not a member when %s', (_case, history, credentials, refused) => {
      given(history, credentials, refused).thenMembers(MAIN, 'c2');
    });

    it('switched on while the additional credentials switch was never turned on is no member', () => {
      given([created, toggled('c1', true), toggled('c2', true)]).thenMembers(MAIN);
    });

    it('switched off with the additional credentials switch is no member, nor is any other', () => {
      given([...bothOn, switched(false)]).thenMembers(MAIN);
    });

    it('is a member again when switched back on', () => {
      given([...bothOn, toggled('c1', false), toggled('c1', true)]).thenMembers(MAIN, 'c1', 'c2');
    });

    it('is a member again when the additional credentials switch is turned back on, keeping its own switch', () => {
      given([...bothOn, switched(false), toggled('c2', false), switched(true)]).thenMembers(MAIN, 'c1');
    });

    it.each<[string, PlanEvent[], Record<string, CredentialEvent[]>, string[]]>([
      ['removed', [...bothOn, toggled('c1', false), toggled('c1', true)], { c1: [added('c1'), removed('c1')], c2: [added('c2')] }, []],
      ['refused by GitLab', [...bothOn, toggled('c1', false), toggled('c1', true)], bothAdded, ['c1']],
    ])('is never a member again once %s, whatever the plan says after', (_case, history, credentials, refused) => {
      given(history, credentials, refused).thenMembers(MAIN, 'c2');
    });

    it("is still a member after a failed verification recorded elsewhere: the run's own 401 takes it out", () => {
      given(bothOn, { c1: [added('c1'), failed('c1')], c2: [added('c2')] }).thenMembers(MAIN, 'c1', 'c2');
    });
  });

  it('no request after a switch-off, at any later point of the history', () => {
    const history = [...bothOn, toggled('c1', false), switched(false), switched(true), toggled('c2', false)];
    const expected = [[MAIN], [MAIN], [MAIN, 'c1'], [MAIN, 'c1', 'c2'], [MAIN, 'c2'], [MAIN], [MAIN, 'c2'], [MAIN]];
    expected.forEach((members, at) => {
      given(history.slice(0, at + 1)).thenMembers(...members);
    });
  });

  describe('a check', () => {
    it('reads the credentials switched on and those in the pool, but none GitLab refused', () => {
      given([...bothOn, toggled('c1', false), toggled('c3', true)], bothAdded, ['c2'])
        .whenPoolHas(MAIN, 'c1')
        .thenReads('c3', 'c1');
    });

    it('takes out whoever may no longer make a request and adds whoever now may', () => {
      given([...bothOn, toggled('c1', false)])
        .whenPoolHas(MAIN, 'c1')
        .thenChanges({ leave: ['c1'], join: ['c2'] });
    });

    it('changes nothing when the pool already holds the members', () => {
      given(bothOn).whenPoolHas(MAIN, 'c1', 'c2').thenChanges({ leave: [], join: [] });
    });
  });
});
