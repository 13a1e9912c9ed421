// Which accounts may make a plan run's next request: a rule over what the log says of the plan
// and its credentials, and what the run itself learnt (GitLab's refusals). Pure: the run reads
// the log, this decides.
import type { CredentialState } from '../../domain/credential';
import { switchedOnCredentials, type PlanState } from '../../domain/plan';

/** The organization's own login in the pool; credentials go by their ids. */
export const MAIN = 'main';

export interface MembershipFacts {
  plan: PlanState;
  /** What the log says of each credential read so far. */
  credentials: ReadonlyMap<string, CredentialState>;
  /** Refused by GitLab during the run, or whose secret could not be read: never taken back. */
  unusable: ReadonlySet<string>;
}

/**
 * The main login may until GitLab refuses it. A credential may while it is effective: the plan
 * active with its additional credentials switch on, the credential switched on in the plan and
 * not removed, and never refused during the run.
 */
export function mayRequest(key: string, facts: MembershipFacts): boolean {
  if (facts.unusable.has(key)) return false;
  if (key === MAIN) return true;
  return switchedOnCredentials(facts.plan).includes(key) && facts.credentials.get(key)?.status === 'active';
}

/** The credentials whose state a check needs: those the plan switches on, and those in the pool (to see them leave). */
export function credentialsToRead(plan: PlanState, members: readonly string[], unusable: ReadonlySet<string>): string[] {
  const credentials = members.filter((key) => key !== MAIN);
  return [...new Set([...switchedOnCredentials(plan), ...credentials])].filter((id) => !unusable.has(id));
}

/** How the pool changes: members that may no longer make a request leave, credentials that now may join. */
export function membershipChanges(members: readonly string[], facts: MembershipFacts): { leave: string[]; join: string[] } {
  return {
    leave: members.filter((key) => !mayRequest(key, facts)),
    join: switchedOnCredentials(facts.plan).filter((id) => !members.includes(id) && mayRequest(id, facts)),
  };
}
