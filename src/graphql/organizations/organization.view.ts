import { found } from '../../app/found';
import { credentialStatus } from '../../domain/credential';
import { organizationById } from '../../queries/organizations';
import type { CredentialView, OrganizationView } from '../../queries/views';
import { tenantOf, type GraphQLContext } from '../context';
import { CredentialStatus, type AuthMethodName, type Credential, type Organization, OrganizationStatus, type Provider } from './organization.type';

export function organizationOf(view: OrganizationView): Organization {
  return {
    ...view,
    provider: view.provider as Provider,
    authMethod: view.authMethod as AuthMethodName,
    status: view.removedAt === null ? OrganizationStatus.ACTIVE : OrganizationStatus.REMOVED,
  };
}

export function credentialOf(view: CredentialView): Credential {
  const status = credentialStatus(
    { removed: view.removedAt !== null, failure: view.token.failure, expiresAt: view.token.expiresAt, throttledUntil: view.throttledUntil },
    new Date(),
  );
  return { ...view, status: CredentialStatus[status] };
}

/** The organization a credential or plan belongs to, removed ones included: they still name it. */
export async function owningOrganization(context: GraphQLContext, id: string): Promise<Organization> {
  return organizationOf(found(await organizationById(context.app.db, tenantOf(context), id, { removed: true }), 'organization', id));
}
