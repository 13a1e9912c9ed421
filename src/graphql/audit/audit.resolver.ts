import { GraphQLError } from 'graphql';
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { found } from '../../app/found';
import type { Role } from '../../domain/tenant';
import { verifyLog } from '../../eventstore/verify';
import { auditPage, UnknownCursorError, type AuditQuery } from '../../queries/audit';
import { credentialById } from '../../queries/organizations';
import { planById } from '../../queries/plans';
import { tokenById } from '../../queries/tenants';
import { checkRoles, Roles } from '../auth-checker';
import { requestOf, tenantOf, type GraphQLContext } from '../context';
import { Credential } from '../organizations/organization.type';
import { credentialOf } from '../organizations/organization.view';
import { BackupPlan } from '../plans/plan.type';
import { badInput } from '../shared/bad-input';
import { withoutNulls } from '../shared/without-nulls';
import { AuditFilter } from './audit.input';
import { AuditEvent, AuditEventConnection, AuditVerification, PlanCredentialToggledEvent } from './audit.type';
import { auditEventOf, matchesAudit } from './audit.view';
import { eventFeed } from './event-feed';

const MAX_PAGE = 500;

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
      const page = await auditPage(context.app.db, tenantOf(context), queryOf(filter), { first, after: after ?? undefined });
      return {
        edges: page.events.map((node) => ({ cursor: node.cursor, node })),
        pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.events.at(-1)?.cursor ?? after ?? null },
      };
    } catch (error) {
      if (error instanceof UnknownCursorError) throw badInput(error.message, 'after');
      throw error;
    }
  }

  @Authorized(Roles.auditors)
  @Query(() => AuditVerification, { description: 'Recomputes the hash chains and reports the first event that is not what was written.' })
  async verifyAuditLog(@Ctx() context: GraphQLContext): Promise<AuditVerification> {
    const tenantId = tenantOf(context);
    // The tenant's own events only: what other tenants write is neither counted nor named here.
    const result = await verifyLog(context.app.store, { select: (event) => event.metadata.tenantId === tenantId });
    if (!result.problem) return { ok: true, checked: result.eventsChecked, firstBrokenCursor: null, problem: null };
    return { ok: false, checked: result.eventsChecked, firstBrokenCursor: result.problem.position ?? null, problem: result.problem.message };
  }

  @Subscription(() => AuditEvent, {
    description: 'The history as it happens. Given the cursor of the last event seen, delivers everything after it first: nothing skipped, nothing repeated.',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { filter?: AuditFilter | null; after?: string | null }, GraphQLContext>) => {
      const tenantId = authorize(context, Roles.auditors);
      const filter = queryOf(args.filter ?? null);
      const from = startPosition(context, args.after);
      return eventFeed(context.app.store, { from, allowed: stillAllowed(context) }, (event) => (matchesAudit(event, tenantId, filter) ? auditEventOf(event) : null));
    },
  })
  auditEvents(
    @Root() event: AuditEvent | GraphQLError,
    @Arg('filter', () => AuditFilter, { nullable: true }) _filter: AuditFilter | null,
    @Arg('after', () => String, { nullable: true }) _after: string | null,
  ): AuditEvent {
    if (event instanceof GraphQLError) throw event;
    return event;
  }

  @Subscription(() => PlanCredentialToggledEvent, {
    description: 'Credentials switched on or off on plans of the tenant (one plan when planId is given), as it happens.',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, { planId?: string | null }, GraphQLContext>) => {
      const tenantId = authorize(context, Roles.readers);
      return eventFeed(context.app.store, { from: 'end', filter: { eventTypes: ['PlanCredentialToggled'] }, allowed: stillAllowed(context) }, (event) => {
        if (!matchesAudit(event, tenantId, { planId: args.planId ?? undefined })) return null;
        const view = auditEventOf(event);
        const data = view.data as { planId: string; credentialId: string; enabled: boolean };
        return { cursor: view.cursor, planId: data.planId, credentialId: data.credentialId, enabled: data.enabled, actor: view.actor, occurredAt: view.occurredAt };
      });
    },
  })
  planCredentialToggled(@Root() event: PlanCredentialToggledEvent | GraphQLError, @Arg('planId', () => ID, { nullable: true }) _planId: string | null): PlanCredentialToggledEvent {
    if (event instanceof GraphQLError) throw event;
    return event;
  }
}

@Resolver(() => PlanCredentialToggledEvent)
export class PlanCredentialToggledResolver {
  @FieldResolver(() => BackupPlan)
  async plan(@Root() event: PlanCredentialToggledEvent, @Ctx() context: GraphQLContext): Promise<BackupPlan> {
    return found(await planById(context.app.db, tenantOf(context), event.planId, { deleted: true }), 'plan', event.planId);
  }

  @FieldResolver(() => Credential)
  async credential(@Root() event: PlanCredentialToggledEvent, @Ctx() context: GraphQLContext): Promise<Credential> {
    return credentialOf(found(await credentialById(context.app.db, tenantOf(context), event.credentialId), 'credential', event.credentialId));
  }
}

function queryOf(filter: AuditFilter | null | undefined): AuditQuery {
  return filter === null || filter === undefined ? {} : withoutNulls(filter);
}


/** Subscriptions are checked here: type-graphql's @Authorized guards resolving, not subscribing. */
export function authorize(context: GraphQLContext, roles: Role[]): string {
  checkRoles(context, roles);
  return tenantOf(context);
}

/** A subscription outlives requests: its token is checked again before each delivery. */
export function stillAllowed(context: GraphQLContext): () => Promise<boolean> {
  const { tenantId, tokenId, system } = requestOf(context).principal;
  return async () => {
    if (system === true) return true;
    const token = await tokenById(context.app.db, tenantId, tokenId);
    return token !== null && token.revokedAt === null;
  };
}

function startPosition(context: GraphQLContext, after: string | null | undefined): string | 'end' {
  if (after === null || after === undefined) return 'end';
  try {
    context.app.store.comparePositions(after, after);
  } catch {
    throw badInput(`not a cursor: ${JSON.stringify(after)}`, 'after');
  }
  return after;
}
