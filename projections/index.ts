import { combineProjections, type Projection } from '../src/core/projection';
import { auditDestinationsProjection } from './audit-destinations';
import { auditLogProjection } from './audit-log';
import { credentialsProjection } from './credentials';
import { devicesProjection } from './devices';
import { notificationChannelsProjection } from './notification-channels';
import { organizationsProjection } from './organizations';
import { planCredentialHistoryProjection } from './plan-credential-history';
import { plansProjection } from './plans';
import { repositoriesProjection } from './repositories';
import { restoresProjection } from './restores';
import { snapshotsProjection } from './snapshots';
import { storagesProjection } from './storages';
import { tasksProjection } from './tasks';
import { passwordsProjection } from './passwords';
import { tenantsProjection } from './tenants';

/**
 * The product's read models, applied together: a mutation then waits for one runner, not one
 * per table, and one transaction per batch keeps them consistent with each other.
 */
export const productProjection = combineProjections('product', [
  tenantsProjection,
  devicesProjection,
  passwordsProjection,
  organizationsProjection,
  credentialsProjection,
  plansProjection,
  planCredentialHistoryProjection,
  repositoriesProjection,
  tasksProjection,
  snapshotsProjection,
  restoresProjection,
  storagesProjection,
  auditDestinationsProjection,
  notificationChannelsProjection,
]);

/** Every read model Backplane maintains, as the runners apply them. */
export const projections: readonly Projection[] = [productProjection, auditLogProjection];
