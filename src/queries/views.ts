import type { PlanSchedule, RetentionPolicy } from '../domain/plan';

/** Read-model rows as the API shows them: plain objects, no SQL types, no secrets. */
export interface ActorView {
  kind: string | null;
  id: string | null;
  name: string | null;
  role: string | null;
}

export interface TenantView {
  id: string;
  name: string;
}

export interface ApiTokenView {
  id: string;
  tenantId: string;
  name: string;
  role: string;
  root: boolean;
  createdAt: Date;
  revokedAt: Date | null;
}

export interface DeviceView {
  id: string;
  name: string;
  builtIn: boolean;
  registeredAt: Date;
}

export interface PasswordView {
  id: string;
  name: string;
  description: string;
  fingerprint: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface OrganizationView {
  id: string;
  provider: string;
  name: string;
  gitlabUrl: string;
  authMethod: string;
  login: string | null;
  passwordId: string | null;
  protectGroups: boolean;
  autoAddNewRepositories: boolean;
  repositoriesSync: { times: string[] | null; intervalMinutes: number | null };
  defaultDeviceId: string;
  version: number;
  addedAt: Date;
  addedBy: ActorView;
  removedAt: Date | null;
  gitlabGroupId: number | null;
  token: TokenView;
}

/** What Backplane last learnt of a token from GitLab; never the token. */
export interface TokenView {
  scopes: string[];
  expiresAt: string | null;
  verifiedAt: Date | null;
  /** The last check's failure, if it failed, and why. */
  failure: string | null;
  problem: string | null;
}

export interface CredentialView {
  id: string;
  organizationId: string;
  login: string;
  passwordId: string;
  fingerprint: string | null;
  addedAt: Date;
  addedBy: ActorView;
  removedAt: Date | null;
  token: TokenView;
  throttledUntil: Date | null;
  /** The expiry day a CredentialExpiring was recorded for, if any. */
  expiringRecordedFor: string | null;
}

export interface PlanView {
  id: string;
  organizationId: string;
  name: string;
  additionalCredentialsEnabled: boolean;
  /** Where its snapshots go; null: the tenant's default storage. */
  storageId: string | null;
  schedule: PlanSchedule | null;
  /** When the schedule was set: a scheduled plan never run is due from then. */
  scheduleSetAt: Date | null;
  retention: RetentionPolicy;
  version: number;
  createdAt: Date;
  deletedAt: Date | null;
}

export interface PlanCredentialView {
  credential: CredentialView;
  enabled: boolean;
  effective: boolean;
  enabledAt: Date | null;
  enabledBy: ActorView | null;
}

export interface AuditEventView {
  /** The event's id: what a consequence names as its causationId. */
  id: string;
  cursor: string;
  type: string;
  occurredAt: Date;
  actor: ActorView;
  streamName: string;
  data: unknown;
  correlationId: string | null;
  causationId: string | null;
  hash: string;
}
