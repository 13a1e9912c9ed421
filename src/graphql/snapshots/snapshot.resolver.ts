import { Arg, Authorized, Ctx, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { manifestOf, verifySnapshot } from '../../app/backup/snapshots';
import { storageById } from '../../app/backup/storages';
import { found } from '../../app/found';
import { credentialById } from '../../queries/organizations';
import { repositoryById } from '../../queries/repositories';
import { snapshotById, snapshotsPage, taskStorage, type SnapshotFilter, type SnapshotView } from '../../queries/snapshots';
import { taskById } from '../../queries/tasks';
import { Roles } from '../auth-checker';
import { readModels, requestOf, tenantOf, type GraphQLContext } from '../context';
import { Credential } from '../organizations/organization.type';
import { credentialOf } from '../organizations/organization.view';
import { Repository } from '../repositories/repository.type';
import { repositoryOf } from '../repositories/repository.resolver';
import { badInput } from '../shared/bad-input';
import { Task } from '../tasks/task.type';
import { taskOf } from '../tasks/task.resolver';
import { Snapshot, SnapshotConnection, SnapshotCredentialUse, SnapshotRef, SnapshotVerification, Storage } from './snapshot.type';
import { storageOf } from './storage.view';

const MAX_PAGE = 100;

@Resolver(() => Snapshot)
export class SnapshotResolver {
  @Authorized(Roles.readers)
  @Query(() => Snapshot, { nullable: true })
  async snapshot(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<Snapshot | null> {
    const view = await snapshotById(readModels(context), tenantOf(context), id);
    return view && snapshotOf(view);
  }

  @Authorized(Roles.readers)
  @Query(() => SnapshotConnection, {
    description: 'Snapshots, newest first, of a plan or a repository (or all of the tenant).',
    complexity: ({ childComplexity, args }) => 1 + (typeof args.first === 'number' ? Math.max(1, Math.min(args.first, MAX_PAGE)) : 20) * childComplexity,
  })
  async snapshots(
    @Arg('planId', () => ID, { nullable: true }) planId: string | null,
    @Arg('repositoryId', () => ID, { nullable: true }) repositoryId: string | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) given: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() context: GraphQLContext,
  ): Promise<SnapshotConnection> {
    return snapshotConnection(context, { planId: planId ?? undefined, repositoryId: repositoryId ?? undefined }, given, after);
  }

  @Authorized(Roles.operators)
  @Mutation(() => SnapshotVerification, {
    description: 'Reads back every object of the snapshot and checks it against its hash; records the outcome, naming the first object missing or altered.',
  })
  async verifySnapshot(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<SnapshotVerification> {
    const view = await verifySnapshot(context.app, requestOf(context), id);
    const verification = view.verification!;
    return { ...verification, verifiedAt: new Date(verification.verifiedAt), snapshotId: view.id };
  }

  @FieldResolver(() => Repository, { nullable: true, description: 'null: the repository is no longer known to Backplane.' })
  async repository(@Root() snapshot: Snapshot, @Ctx() context: GraphQLContext): Promise<Repository | null> {
    const view = await repositoryById(readModels(context), tenantOf(context), snapshot.repositoryId);
    return view && repositoryOf(view);
  }

  @FieldResolver(() => Task)
  async task(@Root() snapshot: Snapshot, @Ctx() context: GraphQLContext): Promise<Task> {
    return taskOf(found(await taskById(readModels(context), tenantOf(context), snapshot.taskId), 'task', snapshot.taskId));
  }

  @FieldResolver(() => Storage, { nullable: true, description: 'null once its storage has been removed: only an expired snapshot outlives its storage.' })
  async storage(@Root() snapshot: Snapshot, @Ctx() context: GraphQLContext): Promise<Storage | null> {
    const storage = await storageById(context.app, tenantOf(context), snapshot.storageId);
    return storage && storageOf(storage);
  }

  @FieldResolver(() => [SnapshotRef], { description: 'Every git ref, read from the manifest in storage.', complexity: 50 })
  async refs(@Root() snapshot: Snapshot, @Ctx() context: GraphQLContext): Promise<SnapshotRef[]> {
    const view = found(await snapshotById(readModels(context), tenantOf(context), snapshot.id), 'snapshot', snapshot.id);
    return (await manifestOf(context.app, tenantOf(context), view)).git.refs;
  }
}

@Resolver(() => SnapshotVerification)
export class SnapshotVerificationResolver {
  @FieldResolver(() => Snapshot, { description: 'The snapshot verified, with this verification as its last.' })
  async snapshot(@Root() verification: SnapshotVerification, @Ctx() context: GraphQLContext): Promise<Snapshot> {
    return snapshotOf(found(await snapshotById(readModels(context), tenantOf(context), verification.snapshotId), 'snapshot', verification.snapshotId));
  }
}

@Resolver(() => SnapshotCredentialUse)
export class SnapshotCredentialUseResolver {
  @FieldResolver(() => Credential, { nullable: true, description: "null: the organization's main login." })
  async credential(@Root() use: SnapshotCredentialUse, @Ctx() context: GraphQLContext): Promise<Credential | null> {
    if (use.credentialId === null) return null;
    const view = await credentialById(readModels(context), tenantOf(context), use.credentialId);
    return view && credentialOf(view);
  }
}

/** What a task stored. */
@Resolver(() => Task)
export class TaskStorageResolver {
  @FieldResolver(() => SnapshotConnection, {
    description: 'Snapshots the task recorded so far, newest first.',
    complexity: ({ childComplexity, args }) => 1 + (typeof args.first === 'number' ? Math.max(1, Math.min(args.first, MAX_PAGE)) : 20) * childComplexity,
  })
  snapshots(
    @Root() task: Task,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20 }) given: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() context: GraphQLContext,
  ): Promise<SnapshotConnection> {
    return snapshotConnection(context, { taskId: task.id }, given, after);
  }

  @FieldResolver(() => Float, { description: 'Bytes the task wrote to storage so far, compressed and encrypted.' })
  async bytesWritten(@Root() task: Task, @Ctx() context: GraphQLContext): Promise<number> {
    return (await taskStorage(readModels(context), tenantOf(context), task.id)).storedBytes;
  }
}

async function snapshotConnection(context: GraphQLContext, filter: SnapshotFilter, given: number | null, after: string | null): Promise<SnapshotConnection> {
  const first = given ?? 20;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput(`first must be 1 to ${MAX_PAGE}`, 'first');
  const page = await snapshotsPage(readModels(context), tenantOf(context), filter, {
    first,
    after: after === null || after === undefined ? undefined : cursorOf(after),
  });
  const edges = page.snapshots.map((view) => ({ cursor: cursorFor(view), node: snapshotOf(view) }));
  return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? after ?? null }, totalCount: page.totalCount };
}

export function snapshotOf(view: SnapshotView): Snapshot {
  const { counts, verification } = view;
  return {
    ...view,
    branches: counts.branches,
    tags: counts.tags,
    issues: counts.issues,
    mergeRequests: counts.mergeRequests,
    labels: counts.labels,
    milestones: counts.milestones,
    releases: counts.releases,
    expiresAt: view.expiredAt,
    verification: verification && { ...verification, verifiedAt: new Date(verification.verifiedAt), snapshotId: view.id },
    archiveUrl: `/snapshots/${view.id}/archive`,
  };
}

/** Opaque to clients: the time and id the next page starts after. */
function cursorFor(view: SnapshotView): string {
  return Buffer.from(JSON.stringify([view.takenAt.toISOString(), view.id])).toString('base64url');
}

function cursorOf(cursor: string): { takenAt: string; id: string } {
  try {
    const [takenAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof takenAt === 'string' && !Number.isNaN(Date.parse(takenAt)) && typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id)) return { takenAt, id };
  } catch {
    // answered below
  }
  throw badInput('not a cursor of snapshots', 'after');
}
