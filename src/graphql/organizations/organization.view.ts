import { found } from '../../app/found';
import { credentialStatus } from '../../domain/credential';
import { organizationById } from '../../queries/organizations';
import type { CredentialView, OrganizationView } from '../../queries/views';
import { readModels, tenantOf, type GraphQLContext } from '../context';
import { CredentialStatus, type AuthMethodName, type Credential, type Organization, OrganizationStatus, type Provider } from './organization.type';

/** The URL of a sign-in is known only to the call that started it: it is kept nowhere. */
export function organizationOf(view: OrganizationView & { authorizationUrl?: string | null }): Organization {
  return {
    ...view,
    provider: view.provider as Provider,
    authMethod: view.authMethod as AuthMethodName,
    status: statusOf(view),
    authorizationUrl: view.authorizationUrl ?? null,
  };
}

function statusOf(view: OrganizationView): OrganizationStatus {
  if (view.removedAt !== null) return OrganizationStatus.REMOVED;
  // SSO gives an organization its login and password entry when someone authorizes it.
  if (view.passwordId === null) return OrganizationStatus.PENDING_AUTHORIZATION;
  return OrganizationStatus.ACTIVE;
}

export function credentialOf(view: CredentialView): Credential {
  const status = credentialStatus(
    {
      removed: view.removedAt !== null,
      failure: view.token.failure,
      expiresAt: view.token.expiresAt,
      throttledUntil: view.throttledUntil,
      expiringRecorded: view.expiringRecordedFor !== null && view.expiringRecordedFor === view.token.expiresAt,
    },
    new Date(),
  );
  return { ...view, status: CredentialStatus[status] };
}

/** The organization a credential or plan belongs to, removed ones included: they still name it. */
export async function owningOrganization(context: GraphQLContext, id: string): Promise<Organization> {
  return organizationOf(found(await organizationById(readModels(context), tenantOf(context), id, { removed: true }), 'organization', id));
}
