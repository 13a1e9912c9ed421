import { randomUUID } from 'node:crypto';
import { credential, credentialStream } from '../domain/credential';
import { gitlabBaseUrl, groupPath, organization, organizationStream, type OrganizationCommand, type RepositoriesSync } from '../domain/organization';
import { plan, planStream } from '../domain/plan';
import { deviceById, passwordById } from '../queries/catalog';
import { credentialsOf, organizationById, organizationForGroup } from '../queries/organizations';
import { plansOf } from '../queries/plans';
import type { OrganizationView } from '../queries/views';
import { execute, expectedRevision, type AppDeps, type Request } from './deps';
import { found } from './found';

/** What a client gives: the command without the id and the facts Backplane looks up itself. */
export type AddOrganizationInput = Omit<Extract<OrganizationCommand, { type: 'AddOrganization' }>['data'], 'organizationId' | 'known'>;

export async function addOrganization(deps: AppDeps, request: Request, input: AddOrganizationInput): Promise<OrganizationView> {
  const { tenantId } = request.principal;
  return deps.tenantLock.run(tenantId, async () => {
    const organizationId = randomUUID();
    const known = {
      deviceRegistered: (await deviceById(deps.db, tenantId, input.defaultDeviceId)) !== null,
      passwordStored: input.passwordId !== undefined && (await passwordById(deps.db, tenantId, input.passwordId)) !== null,
      sameGroupOrganizationId: await organizationForGroup(deps.db, tenantId, gitlabBaseUrl(input.gitlabUrl), groupPath(input.name)),
    };
    await execute(deps, request, organization, organizationStream(organizationId), { type: 'AddOrganization', data: { ...input, organizationId, known } });
    return found(await organizationById(deps.db, tenantId, organizationId), 'organization', organizationId);
  });
}

export async function updateOrganizationSettings(
  deps: AppDeps,
  request: Request,
  id: string,
  input: { protectGroups?: boolean; autoAddNewRepositories?: boolean; repositoriesSync?: RepositoriesSync },
  expectedVersion?: number | null,
): Promise<OrganizationView> {
  const { tenantId } = request.principal;
  found(await organizationById(deps.db, tenantId, id), 'organization', id);
  await execute(deps, request, organization, organizationStream(id), { type: 'UpdateOrganizationSettings', data: { organizationId: id, ...input } }, { expectedRevision: expectedRevision(expectedVersion) });
  return found(await organizationById(deps.db, tenantId, id), 'organization', id);
}

export async function changeDefaultDevice(deps: AppDeps, request: Request, id: string, deviceId: string): Promise<OrganizationView> {
  const { tenantId } = request.principal;
  found(await organizationById(deps.db, tenantId, id), 'organization', id);
  const deviceRegistered = (await deviceById(deps.db, tenantId, deviceId)) !== null;
  await execute(deps, request, organization, organizationStream(id), { type: 'ChangeDefaultDevice', data: { organizationId: id, deviceId, known: { deviceRegistered } } });
  return found(await organizationById(deps.db, tenantId, id), 'organization', id);
}

/** Removes the organization, then, each caused by that removal, its plans and its credentials. */
export async function removeOrganization(deps: AppDeps, request: Request, id: string): Promise<string> {
  const { tenantId } = request.principal;
  return deps.tenantLock.run(tenantId, async () => {
    found(await organizationById(deps.db, tenantId, id), 'organization', id);
    const plans = await plansOf(deps.db, tenantId, id);
    const credentials = await credentialsOf(deps.db, tenantId, id);
    const removal = await execute(deps, request, organization, organizationStream(id), { type: 'RemoveOrganization', data: { organizationId: id } });
    const causationId = removal.eventIds[0];
    for (const { id: planId } of plans) {
      await execute(deps, request, plan, planStream(planId), { type: 'DeletePlan', data: { planId } }, { causationId });
    }
    for (const { id: credentialId } of credentials) {
      await execute(deps, request, credential, credentialStream(credentialId), { type: 'RemoveCredential', data: { credentialId } }, { causationId });
    }
    return id;
  });
}
