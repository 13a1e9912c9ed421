import { randomUUID } from 'node:crypto';
import { fold } from '../core/decider';
import { credential, credentialStream, type CredentialEvent } from '../domain/credential';
import { plan, planStream, type CredentialChange, type KnownCredential } from '../domain/plan';
import { organizationById } from '../queries/organizations';
import { planById, planNameTaken } from '../queries/plans';
import { isUuid } from '../queries/sql-values';
import type { PlanView } from '../queries/views';
import { execute, expectedRevision, settled, write, type AppDeps, type Request } from './deps';
import { found } from './found';

export async function createPlan(deps: AppDeps, request: Request, input: { organizationId: string; name: string }): Promise<PlanView> {
  const { tenantId } = request.principal;
  return deps.tenantLock.run(tenantId, async () => {
    const planId = randomUUID();
    const known = {
      organizationActive: (await organizationById(deps.db, tenantId, input.organizationId)) !== null,
      nameTaken: await planNameTaken(deps.db, tenantId, input.name),
    };
    await execute(deps, request, plan, planStream(planId), { type: 'CreatePlan', data: { planId, organizationId: input.organizationId, name: input.name, known } });
    return found(await planById(deps.db, tenantId, planId), 'plan', planId);
  });
}

export async function deletePlan(deps: AppDeps, request: Request, id: string, expectedVersion?: number | null): Promise<string> {
  await changePlan(deps, request, id, expectedVersion, { type: 'DeletePlan', data: { planId: id } });
  return id;
}

export function setPlanAdditionalCredentials(deps: AppDeps, request: Request, id: string, enabled: boolean, expectedVersion?: number | null): Promise<PlanView> {
  return changePlan(deps, request, id, expectedVersion, { type: 'SetPlanAdditionalCredentials', data: { planId: id, enabled } });
}

/**
 * The credential's facts are read from its stream, and the append made, under the tenant lock;
 * the read models catch up after it is let go. A removal that follows the toggle waits for the
 * read models to include it before it looks for plans to switch the credential off on, and a
 * toggle that follows a removal reads the removal in the stream.
 */
export function togglePlanCredential(deps: AppDeps, request: Request, id: string, credentialId: string, enabled: boolean, expectedVersion?: number | null): Promise<PlanView> {
  return changePlan(deps, request, id, expectedVersion, async () => ({
    type: 'TogglePlanCredential',
    data: { planId: id, credentialId, enabled, known: await knownCredential(deps, request, credentialId) },
  }));
}

/** The edit panel's Save: the switch and every credential change in one append, or nothing. */
export async function updatePlanCredentials(
  deps: AppDeps,
  request: Request,
  id: string,
  input: { additionalCredentialsEnabled?: boolean; credentials: { credentialId: string; enabled: boolean }[] },
  expectedVersion?: number | null,
): Promise<PlanView> {
  return changePlan(deps, request, id, expectedVersion, async () => {
    const credentials: CredentialChange[] = [];
    for (const change of input.credentials) credentials.push({ ...change, known: await knownCredential(deps, request, change.credentialId) });
    return { type: 'UpdatePlanCredentials', data: { planId: id, additionalCredentialsEnabled: input.additionalCredentialsEnabled, credentials } };
  });
}

/** The credential as its stream has it now (not as a read model may lag behind), if it is the tenant's. */
async function knownCredential(deps: AppDeps, request: Request, credentialId: string): Promise<KnownCredential> {
  if (!isUuid(credentialId)) return null;
  const events = await deps.store.readStream(credentialStream(credentialId));
  if (events.length === 0 || events[0].metadata.tenantId !== request.principal.tenantId) return null;
  const state = fold(credential, events.map((event) => ({ type: event.type, data: event.data }) as CredentialEvent));
  return state.status === 'none' ? null : { organizationId: state.organizationId!, removed: state.status === 'removed' };
}

type PlanCommand = Parameters<typeof plan.decide>[0];

/** Commands that judge credentials (given as a function) decide and append under the tenant lock. */
async function changePlan(deps: AppDeps, request: Request, id: string, expectedVersion: number | null | undefined, command: PlanCommand | (() => Promise<PlanCommand>)): Promise<PlanView> {
  const { tenantId } = request.principal;
  found(await planById(deps.db, tenantId, id), 'plan', id);
  const stream = planStream(id);
  const append = async () => write(deps, request, plan, stream, typeof command === 'function' ? await command() : command, { expectedRevision: expectedRevision(expectedVersion) });
  await settled(deps, stream, typeof command === 'function' ? await deps.tenantLock.run(tenantId, append) : await append());
  return found(await planById(deps.db, tenantId, id, { deleted: true }), 'plan', id);
}
