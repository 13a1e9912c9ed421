import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { pruneSnapshots } from '../../app/backup/prune';
import { storageById } from '../../app/backup/storages';
import { found } from '../../app/found';
import {
  createPlan,
  deletePlan,
  scheduleSince,
  setPlanAdditionalCredentials,
  storageOfPlan,
  togglePlanCredential,
  updatePlanBackupSettings,
  updatePlanCredentials,
} from '../../app/plans';
import { nextPlanRunAt } from '../../domain/plan';
import { lastRunStartOf, planById, planCredentials, planCredentialsAsOf, plansOf } from '../../queries/plans';
import type { PlanCredentialView } from '../../queries/views';
import { Roles } from '../auth-checker';
import { readModels, requestOf, tenantOf, type GraphQLContext } from '../context';
import { Organization } from '../organizations/organization.type';
import { credentialOf, owningOrganization } from '../organizations/organization.view';
import { badInput } from '../shared/bad-input';
import { DateTime } from '../shared/scalars';
import { withoutNulls } from '../shared/without-nulls';
import { Storage } from '../snapshots/snapshot.type';
import { storageOf } from '../snapshots/storage.view';
import { CreatePlanInput, PlanBackupSettingsInput, UpdatePlanCredentialsInput } from './plan.input';
import { BackupPlan, PlanBackupSettings, PlanCredential } from './plan.type';

@Resolver(() => BackupPlan)
export class PlanResolver {
  @Authorized(Roles.readers)
  @Query(() => [BackupPlan], { description: "The tenant's plans, or one organization's." })
  plans(@Arg('organizationId', () => ID, { nullable: true }) organizationId: string | null, @Ctx() context: GraphQLContext): Promise<BackupPlan[]> {
    return plansOf(readModels(context), tenantOf(context), organizationId ?? undefined);
  }

  @Authorized(Roles.readers)
  @Query(() => BackupPlan, { nullable: true })
  plan(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<BackupPlan | null> {
    return planById(readModels(context), tenantOf(context), id);
  }

  @Authorized(Roles.auditors)
  @Query(() => [PlanCredential], {
    description: 'Which credentials the plan had switched on at an instant, who switched each on and when, and which were effective.',
  })
  async planCredentialsAsOf(
    @Arg('planId', () => ID) planId: string,
    @Arg('at', () => DateTime) at: Date,
    @Ctx() context: GraphQLContext,
  ): Promise<PlanCredential[]> {
    const plan = found(await planById(readModels(context), tenantOf(context), planId, { deleted: true }), 'plan', planId);
    return (await planCredentialsAsOf(readModels(context), tenantOf(context), plan, at)).map(planCredentialOf);
  }

  @Authorized(Roles.operators)
  @Mutation(() => BackupPlan)
  createPlan(@Arg('input', () => CreatePlanInput) input: CreatePlanInput, @Ctx() context: GraphQLContext): Promise<BackupPlan> {
    return createPlan(context.app, requestOf(context), input);
  }

  @Authorized(Roles.operators)
  @Mutation(() => ID)
  deletePlan(
    @Arg('id', () => ID) id: string,
    @Arg('expectedVersion', () => Int, { nullable: true }) expectedVersion: number | null,
    @Ctx() context: GraphQLContext,
  ): Promise<string> {
    return deletePlan(context.app, requestOf(context), id, expectedVersion);
  }

  @Authorized(Roles.operators)
  @Mutation(() => BackupPlan, { description: 'The "Additional git credentials" switch.' })
  setPlanAdditionalCredentials(
    @Arg('planId', () => ID) planId: string,
    @Arg('enabled', () => Boolean) enabled: boolean,
    @Arg('expectedVersion', () => Int, { nullable: true }) expectedVersion: number | null,
    @Ctx() context: GraphQLContext,
  ): Promise<BackupPlan> {
    return setPlanAdditionalCredentials(context.app, requestOf(context), planId, enabled, expectedVersion);
  }

  @Authorized(Roles.operators)
  @Mutation(() => BackupPlan, { description: 'Switches one credential of the organization on or off for the plan; the value it already has writes nothing.' })
  togglePlanCredential(
    @Arg('planId', () => ID) planId: string,
    @Arg('credentialId', () => ID) credentialId: string,
    @Arg('enabled', () => Boolean) enabled: boolean,
    @Arg('expectedVersion', () => Int, { nullable: true }) expectedVersion: number | null,
    @Ctx() context: GraphQLContext,
  ): Promise<BackupPlan> {
    return togglePlanCredential(context.app, requestOf(context), planId, credentialId, enabled, expectedVersion);
  }

  @Authorized(Roles.operators)
  @Mutation(() => BackupPlan, { description: "The edit panel's Save: all changes in one append, one event per change." })
  updatePlanCredentials(
    @Arg('planId', () => ID) planId: string,
    @Arg('input', () => UpdatePlanCredentialsInput) input: UpdatePlanCredentialsInput,
    @Arg('expectedVersion', () => Int, { nullable: true }) expectedVersion: number | null,
    @Ctx() context: GraphQLContext,
  ): Promise<BackupPlan> {
    return updatePlanCredentials(context.app, requestOf(context), planId, withoutNulls(input), expectedVersion);
  }

  @Authorized(Roles.operators)
  @Mutation(() => BackupPlan, {
    description:
      'Storage, schedule and retention of the plan, all at once: a field left unset takes its default (the default storage, no schedule, no limit). ' +
      'The storage of a running plan is not changed.',
  })
  updatePlanBackupSettings(
    @Arg('planId', () => ID) planId: string,
    @Arg('input', () => PlanBackupSettingsInput) input: PlanBackupSettingsInput,
    @Arg('expectedVersion', () => Int, { nullable: true }) expectedVersion: number | null,
    @Ctx() context: GraphQLContext,
  ): Promise<BackupPlan> {
    const schedule = input.schedule ? withoutNulls(input.schedule) : undefined;
    if (schedule?.times !== undefined && schedule.intervalMinutes !== undefined) {
      throw badInput('schedule takes times or intervalMinutes, not both', 'schedule');
    }
    return updatePlanBackupSettings(context.app, requestOf(context), planId, { ...withoutNulls(input), schedule }, expectedVersion);
  }

  @Authorized(Roles.operators)
  @Mutation(() => Int, {
    description:
      "Applies the plan's retention (each snapshot no rule keeps is recorded as expired), then removes from the plan's storage every object " +
      'no live snapshot of that storage names, of any plan. Answers with the number of snapshots expired. Refused (CONFLICT) while a run of a ' +
      'plan on that storage is writing; while the prune goes on, runs of plans on that storage are refused.',
  })
  async pruneSnapshots(@Arg('planId', () => ID) planId: string, @Ctx() context: GraphQLContext): Promise<number> {
    return (await pruneSnapshots(context.app, requestOf(context), planId)).expired;
  }

  @FieldResolver(() => PlanBackupSettings)
  async backupSettings(@Root() plan: BackupPlan, @Ctx() context: GraphQLContext): Promise<PlanBackupSettings> {
    const schedule = plan.schedule;
    let nextRunAt: Date | null = null;
    if (schedule !== null) {
      const since = scheduleSince(plan, await lastRunStartOf(readModels(context), tenantOf(context), plan.id));
      nextRunAt = nextPlanRunAt(schedule, since, new Date());
    }
    return {
      storageId: storageOfPlan(plan),
      schedule:
        schedule === null
          ? null
          : 'times' in schedule
            ? { times: schedule.times, intervalMinutes: null }
            : { times: null, intervalMinutes: schedule.intervalMinutes },
      ...plan.retention,
      nextRunAt,
    };
  }

  @FieldResolver(() => Organization)
  async organization(@Root() plan: BackupPlan, @Ctx() context: GraphQLContext): Promise<Organization> {
    return owningOrganization(context, plan.organizationId);
  }

  @FieldResolver(() => [PlanCredential], { description: "Every credential of the plan's organization, with whether the plan has it on." })
  async credentials(@Root() plan: BackupPlan, @Ctx() context: GraphQLContext): Promise<PlanCredential[]> {
    return (await planCredentials(readModels(context), tenantOf(context), plan)).map(planCredentialOf);
  }
}

function planCredentialOf(view: PlanCredentialView): PlanCredential {
  return { ...view, credential: credentialOf(view.credential) };
}

@Resolver(() => PlanBackupSettings)
export class PlanBackupSettingsResolver {
  @FieldResolver(() => Storage)
  async storage(@Root() settings: PlanBackupSettings, @Ctx() context: GraphQLContext): Promise<Storage> {
    return storageOf(found(await storageById(context.app, tenantOf(context), settings.storageId), 'storage', settings.storageId));
  }
}
