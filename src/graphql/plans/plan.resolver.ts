import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { found } from '../../app/found';
import { createPlan, deletePlan, setPlanAdditionalCredentials, togglePlanCredential, updatePlanCredentials } from '../../app/plans';
import { planById, planCredentials, planCredentialsAsOf, plansOf } from '../../queries/plans';
import type { PlanCredentialView } from '../../queries/views';
import { Roles } from '../auth-checker';
import { readModels, requestOf, tenantOf, type GraphQLContext } from '../context';
import { Organization } from '../organizations/organization.type';
import { credentialOf, owningOrganization } from '../organizations/organization.view';
import { DateTime } from '../shared/scalars';
import { withoutNulls } from '../shared/without-nulls';
import { CreatePlanInput, UpdatePlanCredentialsInput } from './plan.input';
import { BackupPlan, PlanCredential } from './plan.type';

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
