import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { found } from '../../app/found';
import { setLicenseSeats, setRepositoryProtection, syncRepositories } from '../../app/repository-sync';
import { organizationById } from '../../queries/organizations';
import { licenseSeats, repositoriesPage, syncById, syncsOf, type RepositorySyncView, type RepositoryView } from '../../queries/repositories';
import { Roles } from '../auth-checker';
import { readModels, requestOf, tenantOf, type GraphQLContext } from '../context';
import { Organization } from '../organizations/organization.type';
import { badInput } from '../shared/bad-input';
import { LicenseSeats, Repository, RepositoryConnection, RepositoryKindName, RepositorySync, RepositorySyncStatus } from './repository.type';

const MAX_PAGE = 500;

@Resolver(() => Repository)
export class RepositoryResolver {
  @Authorized(Roles.readers)
  @Query(() => RepositoryConnection, { description: "An organization's repositories still on GitLab, by full path." })
  async repositories(
    @Arg('organizationId', () => ID) organizationId: string,
    @Arg('protected', () => Boolean, { nullable: true }) protectedOnly: boolean | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 100 }) given: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() context: GraphQLContext,
  ): Promise<RepositoryConnection> {
    const tenantId = tenantOf(context);
    found(await organizationById(readModels(context), tenantId, organizationId), 'organization', organizationId);
    const first = given ?? 100;
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput(`first must be 1 to ${MAX_PAGE}`, 'first');
    const page = await repositoriesPage(readModels(context), tenantId, organizationId, {
      protected: protectedOnly ?? undefined,
      first,
      after: after === null || after === undefined ? undefined : cursorOf(after),
    });
    const edges = page.repositories.map((node) => ({ cursor: cursorFor(node), node: repositoryOf(node) }));
    return { edges, pageInfo: { hasNextPage: page.hasNextPage, endCursor: edges.at(-1)?.cursor ?? after ?? null }, totalCount: page.totalCount };
  }

  @Authorized(Roles.readers)
  @Query(() => RepositorySync, { nullable: true })
  async repositorySync(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<RepositorySync | null> {
    const view = await syncById(readModels(context), tenantOf(context), id);
    return view && syncOf(view);
  }

  @Authorized(Roles.readers)
  @Query(() => LicenseSeats)
  licenseSeats(@Ctx() context: GraphQLContext): Promise<LicenseSeats> {
    return licenseSeats(readModels(context), tenantOf(context));
  }

  @Authorized(Roles.operators)
  @Mutation(() => RepositorySync, { description: 'Lists the group on GitLab now; answers at once with the sync running (or the one already running).' })
  async syncRepositories(@Arg('organizationId', () => ID) organizationId: string, @Ctx() context: GraphQLContext): Promise<RepositorySync> {
    return syncOf(await syncRepositories(context.app, requestOf(context), organizationId));
  }

  @Authorized(Roles.admins)
  @Mutation(() => LicenseSeats, { description: 'How many projects the tenant may protect at once.' })
  setLicenseSeats(@Arg('count', () => Int) count: number, @Ctx() context: GraphQLContext): Promise<LicenseSeats> {
    return setLicenseSeats(context.app, requestOf(context), count);
  }

  @Authorized(Roles.operators)
  @Mutation(() => Repository, { description: 'Protects a repository by hand; a project takes a license seat.' })
  async protectRepository(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<Repository> {
    return repositoryOf(await setRepositoryProtection(context.app, requestOf(context), id, true));
  }

  @Authorized(Roles.operators)
  @Mutation(() => Repository)
  async unprotectRepository(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<Repository> {
    return repositoryOf(await setRepositoryProtection(context.app, requestOf(context), id, false));
  }
}

/** The sync fields of an organization. */
@Resolver(() => Organization)
export class OrganizationSyncResolver {
  @FieldResolver(() => RepositorySync, { nullable: true, description: 'The latest sync of its repository list.' })
  async lastSync(@Root() organization: Organization, @Ctx() context: GraphQLContext): Promise<RepositorySync | null> {
    const [latest] = await syncsOf(readModels(context), tenantOf(context), organization.id, 1);
    return latest ? syncOf(latest) : null;
  }
}

export function repositoryOf(view: RepositoryView): Repository {
  return { ...view, kind: RepositoryKindName[view.kind] };
}

function syncOf(view: RepositorySyncView): RepositorySync {
  return { ...view, status: RepositorySyncStatus[view.status] };
}

/** Opaque to clients: the full path and id the next page starts after. */
function cursorFor(view: RepositoryView): string {
  return Buffer.from(JSON.stringify([view.fullPath, view.id])).toString('base64url');
}

function cursorOf(cursor: string): { fullPath: string; id: string } {
  try {
    const [fullPath, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof fullPath === 'string' && typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id)) return { fullPath, id };
  } catch {
    // answered below
  }
  throw badInput(`not a cursor: ${JSON.stringify(cursor)}`, 'after');
}
