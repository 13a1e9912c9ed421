import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { runPlan } from '../../app/plan-run/run-plan';
import { FeedEndedError } from '../../app/event-feed';
import { found } from '../../app/found';
import { taskProgress } from '../../app/task-progress';
import { credentialById } from '../../queries/organizations';
import { planById } from '../../queries/plans';
import { taskById, tasksOf, TASKS_LISTED, type TaskView } from '../../queries/tasks';
import { authorize, Roles } from '../auth-checker';
import { readModels, requestOf, tenantOf, type GraphQLContext } from '../context';
import { Credential } from '../organizations/organization.type';
import { credentialOf } from '../organizations/organization.view';
import { BackupPlan } from '../plans/plan.type';
import { refuseUnreadableText } from '../shared/refuse-nul';
import { Task, TaskCredentialUse, TaskStatus } from './task.type';

@Resolver(() => Task)
export class TaskResolver {
  @Authorized(Roles.operators)
  @Mutation(() => Task, {
    description:
      "Runs the plan now over its organization's protected projects; answers at once with the task running. Refused while the plan has a task running.",
  })
  async runPlan(@Arg('planId', () => ID) planId: string, @Ctx() context: GraphQLContext): Promise<Task> {
    return taskOf(await runPlan(context.app, requestOf(context), planId));
  }

  @Authorized(Roles.readers)
  @Query(() => Task, { nullable: true })
  async task(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<Task | null> {
    const view = await taskById(readModels(context), tenantOf(context), id);
    return view && taskOf(view);
  }

  @Authorized(Roles.readers)
  @Query(() => [Task], {
    description: "A plan's tasks, newest first.",
    // Priced as the list it is: up to TASKS_LISTED tasks, each with what it asks of them.
    complexity: ({ childComplexity }) => 1 + TASKS_LISTED * childComplexity,
  })
  async tasks(@Arg('planId', () => ID) planId: string, @Ctx() context: GraphQLContext): Promise<Task[]> {
    const tenantId = tenantOf(context);
    found(await planById(readModels(context), tenantId, planId, { deleted: true }), 'plan', planId);
    return (await tasksOf(readModels(context), tenantId, planId)).map(taskOf);
  }

  @Subscription(() => Task, {
    description: 'A task as it stands, then again as it goes on; ends once the task has ended.',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { taskId: string }, GraphQLContext>) => {
      const request = authorize(context, Roles.readers);
      refuseUnreadableText(args);
      return taskProgress(context.app, request, args.taskId);
    },
  })
  taskProgress(@Root() item: TaskView | FeedEndedError, @Arg('taskId', () => ID) _taskId: string): Task {
    if (item instanceof FeedEndedError) throw item;
    return taskOf(item);
  }

  @FieldResolver(() => BackupPlan)
  async plan(@Root() task: Task, @Ctx() context: GraphQLContext): Promise<BackupPlan> {
    return found(await planById(readModels(context), tenantOf(context), task.planId, { deleted: true }), 'plan', task.planId);
  }
}

@Resolver(() => TaskCredentialUse)
export class TaskCredentialUseResolver {
  @FieldResolver(() => Credential, { nullable: true, description: "null: the organization's main login." })
  async credential(@Root() use: TaskCredentialUse, @Ctx() context: GraphQLContext): Promise<Credential | null> {
    if (use.credentialId === null) return null;
    const view = await credentialById(readModels(context), tenantOf(context), use.credentialId);
    return view && credentialOf(view);
  }
}

export function taskOf(view: TaskView): Task {
  return {
    ...view,
    status: TaskStatus[view.status],
    throttledPeriods: view.throttledPeriods.map((period) => ({ from: new Date(period.from), until: new Date(period.until) })),
  };
}
