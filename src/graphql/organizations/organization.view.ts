import type { CredentialView, OrganizationView } from '../../queries/views';
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
  return { ...view, status: view.removedAt === null ? CredentialStatus.ACTIVE : CredentialStatus.REMOVED };
}
