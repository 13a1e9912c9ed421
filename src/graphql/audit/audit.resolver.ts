import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { auditFeed, historyPage, isCursor, laterCursor, planCredentialToggles, verifyAuditLog } from '../../app/audit';
import { FeedEndedError } from '../../app/event-feed';
import { found } from '../../app/found';
import { tenantHistoryReach, UnknownCursorError, type AuditQuery } from '../../queries/audit';
import { credentialById } from '../../queries/organizations';
import { planById } from '../../queries/plans';
import { authorize, Roles } from '../auth-checker';
import { readModels, requestOf, tenantOf, type GraphQLContext } from '../context';
import { Credential } from '../organizations/organization.type';
import { credentialOf } from '../organizations/organization.view';
import { BackupPlan } from '../plans/plan.type';
import { badInput } from '../shared/bad-input';
import { oncePerRequest } from '../shared/once-per-request';
import { refuseUnreadableText } from '../shared/refuse-nul';
import { withoutNulls } from '../shared/without-nulls';
import { AuditFilter, endsBeforeItStarts, TO_NOT_LATER } from './audit.input';
import { AuditEvent, AuditEventConnection, AuditVerification, PlanCredentialToggledEvent } from './audit.type';

const MAX_PAGE = 500;
/** As AuditFilter.types allows. */
const MAX_TYPES = 100;

@Resolver()
export class AuditResolver {
  @Authorized(Roles.auditors)
  @Query(() => AuditEventConnection, { description: "The tenant's history, oldest first." })
  async auditLog(
    @Arg('filter', () => AuditFilter, { nullable: true }) filter: AuditFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 100 }) given: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() context: GraphQLContext,
  ): Promise<AuditEventConnection> {
    const first = given ?? 100;
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput(`first must be 1 to ${MAX_PAGE}`, 'first');
    try {
      // The history as far as the log's end now: a change answered before this query is in it.
      await context.app.settleHistory();
      // Read before the page: whatever the history takes in meanwhile lies after it, so a feed from there misses none of it.
      const reach = await tenantHistoryReach(readModels(context), tenantOf(context));
      const page = await historyPage(context.app, tenantOf(context), queryOf(filter), { first, after: after ?? undefined });
      const last = page.events.at(-1)?.cursor ?? null;
      return {
        edges: page.events.map((node) => ({ cursor: node.cursor, node })),
        pageInfo: {
          hasNextPage: page.hasNextPage,
          endCursor: last ?? after ?? null,
          liveCursor: last ?? laterCursor(context.app, after ?? null, reach),
        },
      };
    } catch (error) {
      if (error instanceof UnknownCursorError) throw badInput(error.message, 'after');
      throw error;
    }
  }

  @Authorized(Roles.auditors)
  @Query(() => AuditVerification, { description: 'Recomputes the hash chains and reports the first event that is not what was written.' })
  verifyAuditLog(@Ctx() context: GraphQLContext): Promise<AuditVerification> {
    // A walk of the whole log: aliases of the field share one walk rather than each making their own.
    return oncePerRequest(context, 'verifyAuditLog', () => verifyAuditLog(context.app, requestOf(context)));
  }

  @Subscription(() => AuditEvent, {
    description: 'The history as it happens. Given the cursor of the last event seen, delivers everything after it first: nothing skipped, nothing repeated.',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { filter?: AuditFilter | null; after?: string | null }, GraphQLContext>) => {
      const request = authorize(context, Roles.auditors);
      refuseUnreadableText(args);
      const after = args.after ?? null;
      if (after !== null && !isCursor(context.app, after)) throw badInput('after is not a cursor', 'after');
      // Arguments of a subscription are not validated as a field's are, and each event is matched against them.
      if ((args.filter?.types?.length ?? 0) > MAX_TYPES) throw badInput(`filter.types takes at most ${MAX_TYPES} event types`, 'filter.types');
      if (args.filter && endsBeforeItStarts(args.filter)) throw badInput(TO_NOT_LATER, 'filter.to');
      return auditFeed(context.app, request, queryOf(args.filter ?? null), after);
    },
  })
  auditEvents(
    @Root() event: AuditEvent | FeedEndedError,
    @Arg('filter', () => AuditFilter, { nullable: true }) _filter: AuditFilter | null,
    @Arg('after', () => String, { nullable: true }) _after: string | null,
  ): AuditEvent {
    if (event instanceof FeedEndedError) throw event;
    return event;
  }

  @Subscription(() => PlanCredentialToggledEvent, {
    description: 'Credentials switched on or off on plans of the tenant (one plan when planId is given), as it happens.',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { planId?: string | null }, GraphQLContext>) => {
      const request = authorize(context, Roles.readers);
      refuseUnreadableText(args);
      return planCredentialToggles(context.app, request, args.planId ?? null);
    },
  })
  planCredentialToggled(
    @Root() event: PlanCredentialToggledEvent | FeedEndedError,
    @Arg('planId', () => ID, { nullable: true }) _planId: string | null,
  ): PlanCredentialToggledEvent {
    if (event instanceof FeedEndedError) throw event;
    return event;
  }
}

@Resolver(() => PlanCredentialToggledEvent)
export class PlanCredentialToggledResolver {
  @FieldResolver(() => BackupPlan)
  async plan(@Root() event: PlanCredentialToggledEvent, @Ctx() context: GraphQLContext): Promise<BackupPlan> {
    return found(await planById(readModels(context), tenantOf(context), event.planId, { deleted: true }), 'plan', event.planId);
  }

  @FieldResolver(() => Credential)
  async credential(@Root() event: PlanCredentialToggledEvent, @Ctx() context: GraphQLContext): Promise<Credential> {
    return credentialOf(found(await credentialById(readModels(context), tenantOf(context), event.credentialId), 'credential', event.credentialId));
  }
}

function queryOf(filter: AuditFilter | null | undefined): AuditQuery {
  return filter === null || filter === undefined ? {} : withoutNulls(filter);
}
