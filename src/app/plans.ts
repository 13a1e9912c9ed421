import { randomUUID } from 'node:crypto';
import { ConcurrencyError, DomainError, ReadModelsCatchingUpError } from '../core/errors';
import { readState } from '../core/read-state';
import { credential, credentialStream } from '../domain/credential';
import { plan, planStream, type CredentialChange, type KnownCredential, type PlanCommand, type PlanScheduleInput } from '../domain/plan';
import { organizationById } from '../queries/organizations';
import { planById, planNameTaken, plansUsingCredential } from '../queries/plans';
import { unfinishedTaskOf } from '../queries/tasks';
import { isUuid } from '../queries/sql-values';
import type { PlanView } from '../queries/views';
import { DEFAULT_STORAGE_ID, storageById } from './backup/storages';
import { execute, expectedRevision, type AppDeps, type Request } from './deps';
import { found } from './found';
import { executeLocked, executeLockedAnswering } from './locked-command';

export async function createPlan(deps: AppDeps, request: Request, input: { organizationId: string; name: string }): Promise<PlanView> {
  const { tenantId } = request.principal;
  const planId = randomUUID();
  await executeLocked(
    deps,
    request,
    plan,
    planStream(planId),
    async (): Promise<PlanCommand> => ({
      type: 'CreatePlan',
      data: {
        planId,
        organizationId: input.organizationId,
        name: input.name,
        known: {
          organizationActive: (await organizationById(deps.db, tenantId, input.organizationId)) !== null,
          nameTaken: await planNameTaken(deps.db, tenantId, input.name),
        },
      },
    }),
  );
  return found(await planById(deps.db, tenantId, planId), 'plan', planId);
}

export async function deletePlan(deps: AppDeps, request: Request, id: string, expectedVersion?: number | null): Promise<string> {
  await changePlan(deps, request, id, expectedVersion, { type: 'DeletePlan', data: { planId: id } });
  return id;
}

export function setPlanAdditionalCredentials(
  deps: AppDeps,
  request: Request,
  id: string,
  enabled: boolean,
  expectedVersion?: number | null,
): Promise<PlanView> {
  return changePlan(deps, request, id, expectedVersion, { type: 'SetPlanAdditionalCredentials', data: { planId: id, enabled } });
}

/**
 * The credential's facts are read from its stream (a removal is seen however far the read models
 * are behind); to switch it on, how many other plans have it on, from the read models, under the
 * credential's lock (see credentialScope), held until the read models include the toggle.
 * Switching off judges nothing beyond the plan and the credential's own stream, and lowers the
 * count only (as deleting a plan does): it takes no lock and looks nothing up in the read models.
 */
export function togglePlanCredential(
  deps: AppDeps,
  request: Request,
  id: string,
  credentialId: string,
  enabled: boolean,
  expectedVersion?: number | null,
): Promise<PlanView> {
  return changePlan(
    deps,
    request,
    id,
    expectedVersion,
    async () => ({
      type: 'TogglePlanCredential',
      data: { planId: id, credentialId, enabled, known: await knownCredential(deps, request, id, credentialId, enabled) },
    }),
    enabled ? [credentialScope(credentialId)] : UNLOCKED,
  );
}

/** The edit panel's Save: the switch and every credential change in one append, or nothing. */
export async function updatePlanCredentials(
  deps: AppDeps,
  request: Request,
  id: string,
  input: { additionalCredentialsEnabled?: boolean; credentials: { credentialId: string; enabled: boolean }[] },
  expectedVersion?: number | null,
): Promise<PlanView> {
  return changePlan(
    deps,
    request,
    id,
    expectedVersion,
    async () => {
      const credentials: CredentialChange[] = [];
      for (const change of input.credentials) credentials.push({ ...change, known: await knownCredential(deps, request, id, change.credentialId, true) });
      return { type: 'UpdatePlanCredentials', data: { planId: id, additionalCredentialsEnabled: input.additionalCredentialsEnabled, credentials } };
    },
    credentialScopes(input.credentials),
  );
}

/** More scopes than this and the Save holds the tenant's lock alone: each scope is a lock of the database's. */
const MOST_SCOPES = 16;

/**
 * The scopes of the credentials a Save switches on (switching off judges nothing beyond the plan,
 * and an id that is no credential's is refused without looking further), or undefined (the
 * tenant's lock alone) when they are many.
 */
function credentialScopes(changes: readonly { credentialId: string; enabled: boolean }[]): string[] | undefined {
  const scopes = [...new Set(changes.filter((change) => change.enabled && isUuid(change.credentialId)).map((change) => credentialScope(change.credentialId)))];
  return scopes.length <= MOST_SCOPES ? scopes : undefined;
}

/**
 * What a plan's credential switch judges beyond the plan: the credential's own stream (read, not
 * looked up) and, to switch it on, how many other plans have it on. That count rises only by
 * switches on of the same credential, which name the same scope; it falls by switches off, by
 * commands that hold the tenant's lock alone (removing the credential or its organization), and
 * by a plan deleted, none of which can let a rule be passed twice.
 */
function credentialScope(credentialId: string): string {
  return `credential:${credentialId}`;
}

export interface PlanBackupSettingsInput {
  /** Unset: the tenant's default storage. */
  storageId?: string | null;
  schedule?: PlanScheduleInput | null;
  keepLast?: number | null;
  keepDaily?: number | null;
  keepWeekly?: number | null;
  keepMonthly?: number | null;
}

/** What a plan's schedule counts from: its latest run's start, or when the schedule was set if that is later. */
export function scheduleSince(view: PlanView, lastStartedAt: Date | null): Date {
  const times = [lastStartedAt, view.scheduleSetAt].filter((at) => at !== null).map((at) => at.getTime());
  return new Date(Math.max(0, ...times));
}

/** The storage a plan keeps its snapshots in. */
export function storageOfPlan(view: PlanView): string {
  return view.storageId ?? DEFAULT_STORAGE_ID;
}

/**
 * Storage, schedule and retention in one go, each field as given (unset: default storage, no
 * schedule, no limit). The storage is looked up under the tenant lock, as is whether the plan
 * runs: a running plan's storage is not changed under it.
 */
export function updatePlanBackupSettings(
  deps: AppDeps,
  request: Request,
  id: string,
  input: PlanBackupSettingsInput,
  expectedVersion?: number | null,
): Promise<PlanView> {
  const { tenantId } = request.principal;
  const storageId = input.storageId ?? DEFAULT_STORAGE_ID;
  return changePlan(deps, request, id, expectedVersion, async () => {
    const current = await planById(deps.db, tenantId, id);
    return {
      type: 'UpdatePlanBackupSettings',
      data: {
        planId: id,
        storageId,
        schedule: input.schedule ?? null,
        keepLast: input.keepLast ?? null,
        keepDaily: input.keepDaily ?? null,
        keepWeekly: input.keepWeekly ?? null,
        keepMonthly: input.keepMonthly ?? null,
        known: {
          storageExists: (await storageById(deps, tenantId, storageId)) !== null,
          currentStorageId: current === null ? DEFAULT_STORAGE_ID : storageOfPlan(current),
          planRunning: (await unfinishedTaskOf(deps.db, tenantId, id)) !== null,
        },
      },
    };
  });
}

/**
 * The credential as its stream has it now, if it is the tenant's, and the other plans it is on
 * (counted only with `counted`: the caller holds the credential's lock and the read models are
 * caught up; otherwise 0, which only a switch off may be judged with).
 */
async function knownCredential(deps: AppDeps, request: Request, planId: string, credentialId: string, counted: boolean): Promise<KnownCredential> {
  if (!isUuid(credentialId)) return null;
  const { tenantId } = request.principal;
  // Side by side: the count is of no use when the credential is none of the tenant's, and harmless.
  const [{ state }, plans] = await Promise.all([
    readState(deps.store, credential, credentialStream(credentialId), tenantId),
    counted ? plansUsingCredential(deps.db, tenantId, credentialId) : [],
  ]);
  if (state.status === 'none') return null;
  const onOtherPlans = plans.filter((other) => other !== planId).length;
  return { organizationId: state.organizationId!, removed: state.status === 'removed', onOtherPlans };
}

/** A command made from facts of its own (given as a function) that needs no lock: see changePlan. */
const UNLOCKED = 'unlocked';

/**
 * Commands that judge facts beyond the plan (given as a function) run under the tenant lock, or
 * under the scopes' locks where they name what they judge, or, UNLOCKED, under none where those
 * facts are read from streams alone and the change can let no rule be passed; the others need none.
 *
 * Whether the plan is the tenant's and not deleted is judged by the command itself, from the
 * plan's stream (a plan that is none of the tenant's, or none at all, is refused there and
 * writes nothing); only a refused command looks the plan up, so that it answers as a plan not
 * found whatever else refused it (a conflict of versions, the locks' wait).
 */
async function changePlan(
  deps: AppDeps,
  request: Request,
  id: string,
  expectedVersion: number | null | undefined,
  command: PlanCommand | (() => Promise<PlanCommand>),
  scopes?: readonly string[] | typeof UNLOCKED,
): Promise<PlanView> {
  const { tenantId } = request.principal;
  if (!isUuid(id)) found(null, 'plan', id);
  const stream = planStream(id);
  const answer = () => planById(deps.db, tenantId, id, { deleted: true });
  let view: PlanView | null;
  try {
    // A version refused (a negative one) is a refusal too: a plan not found is answered first.
    const options = { expectedRevision: expectedRevision(expectedVersion) };
    if (typeof command !== 'function' || scopes === UNLOCKED) {
      // Facts of its own are read while the plan's stream is.
      await execute(deps, request, plan, stream, typeof command === 'function' ? command() : command, options);
      view = await answer();
    } else {
      // The answer is read while the locks are let go.
      ({ answer: view } = await executeLockedAnswering(deps, request, plan, stream, command, answer, { ...options, scopes }));
    }
  } catch (error) {
    // A refusal, before anything is written (a failed wait after the write is not one: a plan it
    // deleted stays unfound), by the plan's stream or its facts; not read models still behind, which may not show the plan yet.
    const refused = error instanceof DomainError || (error instanceof ConcurrencyError && !(error instanceof ReadModelsCatchingUpError));
    if (refused) found(await planById(deps.db, tenantId, id), 'plan', id);
    throw error;
  }
  return found(view, 'plan', id);
}
