import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { AuditDestinationResolver } from './audit-destinations/audit-destination.resolver';
import { AuditDigestResolver } from './audit/audit-digest.resolver';
import { AuditResolver, PlanCredentialToggledResolver } from './audit/audit.resolver';
import { authChecker } from './auth-checker';
import { CatalogResolver } from './catalog/catalog.resolver';
import { NotificationChannelResolver } from './notification-channels/notification-channel.resolver';
import { CredentialResolver, OrganizationFieldResolver, OrganizationResolver } from './organizations/organization.resolver';
import { PlanBackupSettingsResolver, PlanResolver } from './plans/plan.resolver';
import { OrganizationSyncResolver, RepositoryResolver } from './repositories/repository.resolver';
import { RestoreResolver } from './restores/restore.resolver';
import { refuseNul } from './shared/refuse-nul';
import { refuseWhileCatchingUp } from './shared/refuse-while-catching-up';
import { DateTime } from './shared/scalars';
import { SnapshotCredentialUseResolver, SnapshotResolver, SnapshotVerificationResolver, TaskStorageResolver } from './snapshots/snapshot.resolver';
import { StorageResolver } from './snapshots/storage.resolver';
import { TaskCredentialUseResolver, TaskResolver } from './tasks/task.resolver';
import { PrincipalResolver } from './tenants/principal.resolver';

let built: Promise<GraphQLSchema> | undefined;

/** The API's schema, built once per process from the decorated classes. */
export function backplaneSchema(): Promise<GraphQLSchema> {
  built ??= buildSchema({
    resolvers: [
      PrincipalResolver,
      CatalogResolver,
      OrganizationResolver,
      OrganizationFieldResolver,
      CredentialResolver,
      PlanResolver,
      PlanBackupSettingsResolver,
      AuditResolver,
      PlanCredentialToggledResolver,
      AuditDigestResolver,
      AuditDestinationResolver,
      NotificationChannelResolver,
      RepositoryResolver,
      OrganizationSyncResolver,
      TaskResolver,
      TaskCredentialUseResolver,
      SnapshotResolver,
      SnapshotCredentialUseResolver,
      SnapshotVerificationResolver,
      TaskStorageResolver,
      RestoreResolver,
      StorageResolver,
    ],
    authChecker,
    globalMiddlewares: [refuseWhileCatchingUp, refuseNul],
    // Required by type-graphql for @Subscription; every subscription here brings its own
    // subscribe() over the event store, so nothing is ever published in memory.
    pubSub: {
      publish: () => {
        throw new Error('subscriptions read the event store; nothing is published in memory');
      },
      subscribe: () => {
        throw new Error('subscriptions read the event store; nothing is published in memory');
      },
    },
    scalarsMap: [{ type: Date, scalar: DateTime }],
    // forbidUnknownValues would refuse inputs that carry no decorators of their own.
    validate: { forbidUnknownValues: false, validationError: { target: false, value: false } },
  });
  return built;
}
