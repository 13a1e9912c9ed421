import type { Projection } from '../src/core/projection';
import { auditLogProjection } from './audit-log';
import { credentialsProjection } from './credentials';
import { devicesProjection } from './devices';
import { organizationsProjection } from './organizations';
import { planCredentialHistoryProjection } from './plan-credential-history';
import { plansProjection } from './plans';
import { passwordsProjection } from './passwords';
import { tenantsProjection } from './tenants';

/** Every read model Backplane maintains. */
export const projections: readonly Projection[] = [
  tenantsProjection,
  devicesProjection,
  passwordsProjection,
  organizationsProjection,
  credentialsProjection,
  plansProjection,
  planCredentialHistoryProjection,
  auditLogProjection,
];
