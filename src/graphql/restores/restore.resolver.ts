import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { restoreSnapshot } from '../../app/backup/restore';
import { restoreById, type RestoreView } from '../../queries/restores';
import { snapshotById } from '../../queries/snapshots';
import { Roles } from '../auth-checker';
import { readModels, requestOf, tenantOf, type GraphQLContext } from '../context';
import { Snapshot } from '../snapshots/snapshot.type';
import { snapshotOf } from '../snapshots/snapshot.resolver';
import { RestoreSnapshotInput } from './restore.input';
import { Restore, RestoreStatus, RestoreTarget } from './restore.type';

@Resolver(() => Restore)
export class RestoreResolver {
  @Authorized(Roles.operators)
  @Mutation(() => Restore, {
    description:
      'Restores a snapshot into a new GitLab project (answers RUNNING; the work goes on, recorded step by step) or as an archive (completes at once with its archiveUrl). A project that exists is never written to.',
  })
  async restoreSnapshot(@Arg('input', () => RestoreSnapshotInput) input: RestoreSnapshotInput, @Ctx() context: GraphQLContext): Promise<Restore> {
    // A refusal names the field at fault (RestoreRefused), answered in extensions.field.
    return restoreOf(await restoreSnapshot(context.app, requestOf(context), input));
  }

  @Authorized(Roles.readers)
  @Query(() => Restore, { nullable: true })
  async restore(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<Restore | null> {
    const view = await restoreById(readModels(context), tenantOf(context), id);
    return view && restoreOf(view);
  }

  @FieldResolver(() => Snapshot, { nullable: true, description: 'null: the snapshot is no longer kept.' })
  async snapshot(@Root() restore: Restore, @Ctx() context: GraphQLContext): Promise<Snapshot | null> {
    const view = await snapshotById(readModels(context), tenantOf(context), restore.snapshotId);
    return view && snapshotOf(view);
  }
}

export function restoreOf(view: RestoreView): Restore {
  return { ...view, status: RestoreStatus[view.status], target: RestoreTarget[view.target] };
}
