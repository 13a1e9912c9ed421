import { IsNotEmpty, MaxLength } from 'class-validator';
import { Arg, ArgsType, Args, Authorized, Ctx, Field, ID, Mutation, Query, Resolver } from 'type-graphql';
import { found } from '../../app/found';
import { createApiToken, createTenant, revokeApiToken, type IssuedToken } from '../../app/tenants';
import { tenantById, tokenById, tokensOf } from '../../queries/tenants';
import type { ApiTokenView } from '../../queries/views';
import { Roles } from '../auth-checker';
import { readModels, requestOf, tenantOf, type GraphQLContext } from '../context';
import { PlainText } from '../shared/plain-text';
import { CreateApiTokenInput } from './principal.input';
import { IssuedApiToken, Principal, type RoleName } from './principal.type';

@ArgsType()
class CreateTenantArgs {
  @Field(() => String)
  @IsNotEmpty({ message: 'name must not be empty' })
  @MaxLength(100)
  @PlainText('name')
  name!: string;
}

@Resolver(() => Principal)
export class PrincipalResolver {
  @Authorized(Roles.readers)
  @Query(() => Principal, { description: 'The principal the request carries.' })
  async me(@Ctx() context: GraphQLContext): Promise<Principal> {
    const principal = requestOf(context).principal;
    return principalOf(context, found(await tokenById(readModels(context), principal.tenantId, principal.tokenId), 'API token', principal.tokenId));
  }

  @Authorized(Roles.admins)
  @Query(() => [Principal], { description: "The tenant's API tokens, revoked ones included." })
  async apiTokens(@Ctx() context: GraphQLContext): Promise<Principal[]> {
    const tokens = await tokensOf(readModels(context), tenantOf(context));
    return Promise.all(tokens.map((token) => principalOf(context, token)));
  }

  @Authorized(Roles.admins)
  @Mutation(() => IssuedApiToken)
  async createApiToken(@Arg('input', () => CreateApiTokenInput) input: CreateApiTokenInput, @Ctx() context: GraphQLContext): Promise<IssuedApiToken> {
    return issued(context, await createApiToken(context.app, requestOf(context), input));
  }

  @Authorized(Roles.admins)
  @Mutation(() => Principal, { description: 'Revokes an API token of the tenant; it authenticates nothing from then on.' })
  async revokeApiToken(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<Principal> {
    return principalOf(context, await revokeApiToken(context.app, requestOf(context), id));
  }

  @Authorized(Roles.admins)
  @Mutation(() => IssuedApiToken, { description: 'Root administrator only: creates a tenant and returns its first ADMIN token, once.' })
  async createTenant(@Args(() => CreateTenantArgs) { name }: CreateTenantArgs, @Ctx() context: GraphQLContext): Promise<IssuedApiToken> {
    return issued(context, await createTenant(context.app, requestOf(context), name));
  }
}

async function principalOf(context: GraphQLContext, token: ApiTokenView): Promise<Principal> {
  const tenant = found(await tenantById(readModels(context), token.tenantId), 'tenant', token.tenantId);
  return { id: token.id, name: token.name, role: token.role as RoleName, tenant, root: token.root, createdAt: token.createdAt, revokedAt: token.revokedAt };
}

async function issued(context: GraphQLContext, result: IssuedToken): Promise<IssuedApiToken> {
  return { token: result.token, principal: await principalOf(context, result.principal) };
}
