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
 * The product's read models, applied together: one transaction per batch (or per append, inline)
 * keeps them consistent with each other. Kept inline on PostgreSQL and PGlite, so that a
 * mutation's answer and the next command's look-ups show every change without a wait; the audit
 * log stays with its runner, which numbers its rows in log order.
 */
export const productProjection: Projection = {
  ...combineProjections('product', [
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
  ]),
  inline: true,
};

/** Every read model Backplane maintains, as the runners apply them. */
export const projections: readonly Projection[] = [productProjection, auditLogProjection];
