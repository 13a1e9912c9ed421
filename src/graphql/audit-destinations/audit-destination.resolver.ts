import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { addAuditDestination, auditDestinations, removeAuditDestination } from '../../app/audit-destinations';
import type { AuditDestinationView } from '../../queries/audit-destinations';
import { Roles } from '../auth-checker';
import { requestOf, tenantOf, type GraphQLContext } from '../context';
import { AuditDestination } from './audit-destination.type';
import { AddAuditDestinationInput } from './audit-destination.input';

const destinationOf = ({ tenantId: _tenant, urlSecretId: _url, delivery, ...view }: AuditDestinationView): AuditDestination => ({
  ...view,
  delivery: { ...delivery },
});

@Resolver(() => AuditDestination)
export class AuditDestinationResolver {
  @Authorized(Roles.auditors)
  @Query(() => [AuditDestination], { description: "The tenant's SIEM destinations, by name, with where each one's delivery stands." })
  async auditDestinations(@Ctx() context: GraphQLContext): Promise<AuditDestination[]> {
    return (await auditDestinations(context.app, tenantOf(context))).map(destinationOf);
  }

  @Authorized(Roles.admins)
  @Mutation(() => AuditDestination, { description: 'Adds a SIEM destination: it receives the events recorded after its addition.' })
  async addAuditDestination(
    @Arg('input', () => AddAuditDestinationInput) input: AddAuditDestinationInput,
    @Ctx() context: GraphQLContext,
  ): Promise<AuditDestination> {
    return destinationOf(
      await addAuditDestination(context.app, requestOf(context), {
        name: input.name,
        url: input.url,
        eventTypes: input.eventTypes ?? null,
        passwordId: input.passwordId,
      }),
    );
  }

  @Authorized(Roles.admins)
  @Mutation(() => ID, { description: 'Removes a SIEM destination: no more events go to it.' })
  removeAuditDestination(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<string> {
    return removeAuditDestination(context.app, requestOf(context), id);
  }
}
