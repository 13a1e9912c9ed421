import { randomUUID } from 'node:crypto';
import { plan, planStream, type CredentialChange, type KnownCredential } from '../domain/plan';
import { credentialById, organizationById } from '../queries/organizations';
import { planById, planNameTaken } from '../queries/plans';
import type { PlanView } from '../queries/views';
import { execute, expectedRevision, type AppDeps, type Request } from './deps';
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

/** Under the tenant lock: a credential removed meanwhile would otherwise be switched on after its removal switched it off. */
export function togglePlanCredential(deps: AppDeps, request: Request, id: string, credentialId: string, enabled: boolean, expectedVersion?: number | null): Promise<PlanView> {
  return deps.tenantLock.run(request.principal.tenantId, async () => {
    const known = await knownCredential(deps, request, credentialId);
    return changePlan(deps, request, id, expectedVersion, { type: 'TogglePlanCredential', data: { planId: id, credentialId, enabled, known } });
  });
}

/** The edit panel's Save: the switch and every credential change in one append, or nothing. */
export async function updatePlanCredentials(
  deps: AppDeps,
  request: Request,
  id: string,
  input: { additionalCredentialsEnabled?: boolean; credentials: { credentialId: string; enabled: boolean }[] },
  expectedVersion?: number | null,
): Promise<PlanView> {
  return deps.tenantLock.run(request.principal.tenantId, async () => {
    const credentials: CredentialChange[] = [];
    for (const change of input.credentials) credentials.push({ ...change, known: await knownCredential(deps, request, change.credentialId) });
    return changePlan(deps, request, id, expectedVersion, {
      type: 'UpdatePlanCredentials',
      data: { planId: id, additionalCredentialsEnabled: input.additionalCredentialsEnabled, credentials },
    });
  });
}

async function knownCredential(deps: AppDeps, request: Request, credentialId: string): Promise<KnownCredential> {
  const found = await credentialById(deps.db, request.principal.tenantId, credentialId);
  return found === null ? null : { organizationId: found.organizationId, removed: found.removedAt !== null };
}

async function changePlan(deps: AppDeps, request: Request, id: string, expectedVersion: number | null | undefined, command: Parameters<typeof plan.decide>[0]): Promise<PlanView> {
  const { tenantId } = request.principal;
  found(await planById(deps.db, tenantId, id), 'plan', id);
  await execute(deps, request, plan, planStream(id), command, { expectedRevision: expectedRevision(expectedVersion) });
  return found(await planById(deps.db, tenantId, id, { deleted: true }), 'plan', id);
}
