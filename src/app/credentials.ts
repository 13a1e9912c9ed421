import { randomUUID } from 'node:crypto';
import { DomainError } from '../core/errors';
import { admissibleCredential, credential, credentialStream, type CredentialCommand } from '../domain/credential';
import { plan, planStream } from '../domain/plan';
import { passwordById, passwordHoldsAuthorization } from '../queries/catalog';
import { credentialById, credentialsOf, organizationById } from '../queries/organizations';
import { plansUsingCredential } from '../queries/plans';
import type { CredentialView } from '../queries/views';
import { execute, type AppDeps, type Request } from './deps';
import { found } from './found';
import { executeLocked } from './locked-command';
import { checkToken, verifiedToken } from './verification';

/** A new credential is on no plan: adding it puts it into no backup plan. Its token is checked with GitLab first. */
export async function addCredential(
  deps: AppDeps,
  request: Request,
  input: { organizationId: string; login: string; passwordId: string },
): Promise<CredentialView> {
  const { tenantId } = request.principal;
  const credentialId = randomUUID();
  const known = async () => {
    const organization = await organizationById(deps.db, tenantId, input.organizationId);
    return {
      organization,
      facts: {
        organization: organization === null ? null : { mainLogin: organization.login },
        credentialLogins: organization === null ? [] : (await credentialsOf(deps.db, tenantId, organization.id)).map((other) => other.login),
        passwordStored: (await passwordById(deps.db, tenantId, input.passwordId)) !== null,
        passwordHoldsAuthorization: await passwordHoldsAuthorization(deps.db, tenantId, input.passwordId),
      },
    };
  };
  const { organization, facts } = await known();
  const login = admissibleCredential({ ...input, known: facts });
  const { gitlabUrl, name: groupPath, defaultDeviceId: deviceId } = organization!;
  const target = { tenantId, deviceId, gitlabUrl, groupPath, login, passwordId: input.passwordId };
  const token = await verifiedToken(deps, request, target, { subject: 'CREDENTIAL', organizationId: input.organizationId });
  await executeLocked(
    deps,
    request,
    credential,
    credentialStream(credentialId),
    async (): Promise<CredentialCommand> => ({
      type: 'AddCredential',
      data: { ...input, credentialId, known: (await known()).facts, token },
    }),
  );
  return found(await credentialById(deps.db, tenantId, credentialId), 'credential', credentialId);
}

/** Checks the credential's token again; the outcome is recorded either way and shows in its status. */
export async function verifyCredential(deps: AppDeps, request: Request, id: string): Promise<CredentialView> {
  const { tenantId } = request.principal;
  const current = found(await credentialById(deps.db, tenantId, id), 'credential', id);
  if (current.removedAt !== null) throw new DomainError('NOT_FOUND', `no credential ${id}`);
  const organization = found(await organizationById(deps.db, tenantId, current.organizationId), 'organization', current.organizationId);
  const token = await checkToken(deps, {
    tenantId,
    deviceId: organization.defaultDeviceId,
    gitlabUrl: organization.gitlabUrl,
    groupPath: organization.name,
    login: current.login,
    passwordId: current.passwordId,
  });
  await execute(deps, request, credential, credentialStream(id), { type: 'RecordCredentialVerification', data: { credentialId: id, token } });
  return found(await credentialById(deps.db, tenantId, id), 'credential', id);
}

/**
 * Removes the credential, then switches it off on every plan that had it, each toggle caused by
 * the removal. The removal takes the tenant lock after every toggle before it has reached the
 * read models, and every toggle after it reads the removal in the credential's stream: the
 * look-up that follows misses no plan that has the credential on.
 */
export async function removeCredential(deps: AppDeps, request: Request, id: string): Promise<CredentialView> {
  const { tenantId } = request.principal;
  // Another tenant's credential is not found here; a removed one, by the decider.
  found(await credentialById(deps.db, tenantId, id), 'credential', id);
  const removal = await executeLocked(
    deps,
    request,
    credential,
    credentialStream(id),
    async (): Promise<CredentialCommand> => ({ type: 'RemoveCredential', data: { credentialId: id } }),
  );
  for (const planId of await plansUsingCredential(deps.db, tenantId, id)) {
    await execute(
      deps,
      request,
      plan,
      planStream(planId),
      { type: 'SwitchOffRemovedCredential', data: { planId, credentialId: id } },
      { causationId: removal.eventIds[0] },
    );
  }
  return found(await credentialById(deps.db, tenantId, id), 'credential', id);
}
