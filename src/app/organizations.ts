import { randomUUID } from 'node:crypto';
import { credential, credentialStream } from '../domain/credential';
import {
  admissible,
  awaitingAuthorization,
  gitlabBaseUrl,
  groupPath,
  mainLogin,
  organization,
  organizationStream,
  type OrganizationCommand,
  type RepositoriesSync,
} from '../domain/organization';
import { plan, planStream } from '../domain/plan';
import type { TokenCheck } from '../domain/verification';
import { deviceById, passwordById, passwordHoldsAuthorization } from '../queries/catalog';
import { credentialsOf, organizationById, organizationForGroup } from '../queries/organizations';
import { plansOf } from '../queries/plans';
import type { OrganizationView } from '../queries/views';
import { execute, expectedRevision, type AppDeps, type Request } from './deps';
import { found } from './found';
import { executeLocked } from './locked-command';
import { startFirstSync } from './repository-sync';
import { beginAuthorization, ssoApplication } from './sso';
import { checkToken, verifiedToken } from './verification';

/** What a client gives: the command without the id, the facts Backplane looks up itself, and GitLab's answer. */
export type AddOrganizationInput = Omit<Extract<OrganizationCommand, { type: 'AddOrganization' }>['data'], 'organizationId' | 'known' | 'token'>;

/** An organization as just added: with SSO, the URL where its sign-in to GitLab starts. */
export type AddedOrganization = OrganizationView & { authorizationUrl: string | null };

/**
 * Checks the input, then the main login's token with GitLab (outside the tenant lock: GitLab may
 * be slow), then, under the lock, looks the facts up again and adds the organization. With SSO
 * there is no token yet: it is added pending, with the URL of its sign-in.
 */
export async function addOrganization(deps: AppDeps, request: Request, input: AddOrganizationInput): Promise<AddedOrganization> {
  const { tenantId } = request.principal;
  const organizationId = randomUUID();
  const known = async () => ({
    deviceRegistered: (await deviceById(deps.db, tenantId, input.defaultDeviceId)) !== null,
    passwordStored: input.passwordId !== undefined && (await passwordById(deps.db, tenantId, input.passwordId)) !== null,
    passwordHoldsAuthorization: input.passwordId !== undefined && (await passwordHoldsAuthorization(deps.db, tenantId, input.passwordId)),
    sameGroupOrganizationId: await organizationForGroup(deps.db, tenantId, gitlabBaseUrl(input.gitlabUrl), groupPath(input.name)),
  });
  const { name, gitlabUrl, login, passwordId } = admissible({ ...input, organizationId, known: await known() });
  // With SSO there is no token yet: its sign-in checks what GitLab says.
  const sso = input.authMethod === 'SSO';
  let token: TokenCheck | null = null;
  if (sso) ssoApplication(deps, gitlabUrl, true);
  else {
    const target = { tenantId, deviceId: input.defaultDeviceId, gitlabUrl, groupPath: name, login: login!, passwordId: passwordId! };
    token = await verifiedToken(deps, request, target, { subject: 'ORGANIZATION', organizationId: null });
  }
  await executeLocked(
    deps,
    request,
    organization,
    organizationStream(organizationId),
    async (): Promise<OrganizationCommand> => ({
      type: 'AddOrganization',
      data: { ...input, organizationId, known: await known(), token },
    }),
  );
  const added = found(await organizationById(deps.db, tenantId, organizationId), 'organization', organizationId);
  if (sso) return { ...added, authorizationUrl: await beginAuthorization(deps, request, added) };
  startFirstSync(deps, request, added);
  return { ...added, authorizationUrl: null };
}

/** A new sign-in for a pending SSO organization, whose earlier authorization URLs stop working. */
export async function authorizeOrganization(deps: AppDeps, request: Request, id: string): Promise<AddedOrganization> {
  const { tenantId } = request.principal;
  const current = found(await organizationById(deps.db, tenantId, id), 'organization', id);
  awaitingAuthorization(current);
  ssoApplication(deps, current.gitlabUrl);
  await execute(deps, request, organization, organizationStream(id), { type: 'RequestAuthorization', data: { organizationId: id } });
  for (const secretId of await deps.authorizations.withdraw(tenantId, id)) await deps.vault.discard(secretId);
  return { ...current, authorizationUrl: await beginAuthorization(deps, request, current) };
}

/** Checks the main login's token again; the outcome is recorded either way and shows on the organization. */
export async function verifyOrganization(deps: AppDeps, request: Request, id: string): Promise<OrganizationView> {
  const { tenantId } = request.principal;
  const current = found(await organizationById(deps.db, tenantId, id), 'organization', id);
  const { login, passwordId } = mainLogin(current);
  const sso = current.authMethod === 'SSO';
  // An SSO token answers for whoever signed in: GitLab names them, there is no login to compare.
  const token = await checkToken(deps, {
    tenantId,
    deviceId: current.defaultDeviceId,
    gitlabUrl: current.gitlabUrl,
    groupPath: current.name,
    login: sso ? null : login,
    passwordId,
    authMethod: current.authMethod,
  });
  await execute(deps, request, organization, organizationStream(id), { type: 'RecordOrganizationVerification', data: { organizationId: id, token } });
  return found(await organizationById(deps.db, tenantId, id), 'organization', id);
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
  await execute(
    deps,
    request,
    organization,
    organizationStream(id),
    { type: 'UpdateOrganizationSettings', data: { organizationId: id, ...input } },
    { expectedRevision: expectedRevision(expectedVersion) },
  );
  return found(await organizationById(deps.db, tenantId, id), 'organization', id);
}

export async function changeDefaultDevice(deps: AppDeps, request: Request, id: string, deviceId: string): Promise<OrganizationView> {
  const { tenantId } = request.principal;
  found(await organizationById(deps.db, tenantId, id), 'organization', id);
  const deviceRegistered = (await deviceById(deps.db, tenantId, deviceId)) !== null;
  await execute(deps, request, organization, organizationStream(id), {
    type: 'ChangeDefaultDevice',
    data: { organizationId: id, deviceId, known: { deviceRegistered } },
  });
  return found(await organizationById(deps.db, tenantId, id), 'organization', id);
}

/**
 * Removes the organization, then, each caused by that removal, its plans and its credentials.
 * The removal takes the tenant lock after every plan or credential added before it has reached
 * the read models, and no addition after it finds the organization: the look-ups that follow
 * miss none.
 */
export async function removeOrganization(deps: AppDeps, request: Request, id: string): Promise<string> {
  const { tenantId } = request.principal;
  found(await organizationById(deps.db, tenantId, id), 'organization', id);
  const removal = await executeLocked(
    deps,
    request,
    organization,
    organizationStream(id),
    async (): Promise<OrganizationCommand> => ({
      type: 'RemoveOrganization',
      data: { organizationId: id },
    }),
  );
  const causationId = removal.eventIds[0];
  for (const { id: planId } of await plansOf(deps.db, tenantId, id)) {
    await execute(deps, request, plan, planStream(planId), { type: 'DeletePlan', data: { planId } }, { causationId });
  }
  for (const { id: credentialId } of await credentialsOf(deps.db, tenantId, id)) {
    await execute(deps, request, credential, credentialStream(credentialId), { type: 'RemoveCredential', data: { credentialId } }, { causationId });
  }
  return id;
}
