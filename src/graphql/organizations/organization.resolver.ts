import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { addCredential, removeCredential, verifyCredential } from '../../app/credentials';
import { found } from '../../app/found';
import {
  addOrganization,
  authorizeOrganization,
  changeDefaultDevice,
  removeOrganization,
  updateOrganizationSettings,
  verifyOrganization,
} from '../../app/organizations';
import type { RepositoriesSync } from '../../domain/organization';
import { deviceById, passwordById } from '../../queries/catalog';
import { credentialsOf, organizationById, organizationsOf } from '../../queries/organizations';
import { Roles } from '../auth-checker';
import { Device, PasswordEntry } from '../catalog/catalog.type';
import { readModels, requestOf, tenantOf, type GraphQLContext } from '../context';
import { withoutNulls } from '../shared/without-nulls';
import { AddCredentialInput, AddOrganizationInput, OrganizationSettingsInput, type RepositoriesSyncInput } from './organization.input';
import { Credential, Organization } from './organization.type';
import { credentialOf, organizationOf, owningOrganization } from './organization.view';

@Resolver(() => Organization)
export class OrganizationResolver {
  @Authorized(Roles.readers)
  @Query(() => [Organization])
  async organizations(@Ctx() context: GraphQLContext): Promise<Organization[]> {
    return (await organizationsOf(readModels(context), tenantOf(context))).map(organizationOf);
  }

  @Authorized(Roles.readers)
  @Query(() => Organization, { nullable: true })
  async organization(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<Organization | null> {
    const view = await organizationById(readModels(context), tenantOf(context), id);
    return view && organizationOf(view);
  }

  @Authorized(Roles.readers)
  @Query(() => [Credential], { description: "The organization's additional credentials that have not been removed." })
  async credentials(@Arg('organizationId', () => ID) organizationId: string, @Ctx() context: GraphQLContext): Promise<Credential[]> {
    found(await organizationById(readModels(context), tenantOf(context), organizationId), 'organization', organizationId);
    return (await credentialsOf(readModels(context), tenantOf(context), organizationId)).map(credentialOf);
  }

  @Authorized(Roles.operators)
  @Mutation(() => Organization)
  async addOrganization(@Arg('input', () => AddOrganizationInput) input: AddOrganizationInput, @Ctx() context: GraphQLContext): Promise<Organization> {
    const { repositoriesSync, ...rest } = withoutNulls(input);
    return organizationOf(await addOrganization(context.app, requestOf(context), { ...rest, repositoriesSync: syncOf(repositoriesSync) }));
  }

  @Authorized(Roles.operators)
  @Mutation(() => Organization)
  async updateOrganizationSettings(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => OrganizationSettingsInput) input: OrganizationSettingsInput,
    @Arg('expectedVersion', () => Int, { nullable: true }) expectedVersion: number | null,
    @Ctx() context: GraphQLContext,
  ): Promise<Organization> {
    const { repositoriesSync, ...rest } = withoutNulls(input);
    const settings = repositoriesSync === undefined ? rest : { ...rest, repositoriesSync: syncOf(repositoriesSync) };
    return organizationOf(await updateOrganizationSettings(context.app, requestOf(context), id, settings, expectedVersion));
  }

  @Authorized(Roles.operators)
  @Mutation(() => Organization, { description: 'The device that backs the organization up from now on.' })
  async changeDefaultDevice(
    @Arg('id', () => ID) id: string,
    @Arg('deviceId', () => ID) deviceId: string,
    @Ctx() context: GraphQLContext,
  ): Promise<Organization> {
    return organizationOf(await changeDefaultDevice(context.app, requestOf(context), id, deviceId));
  }

  @Authorized(Roles.operators)
  @Mutation(() => ID, { description: 'Removes the organization, and with it its plans and credentials.' })
  removeOrganization(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<string> {
    return removeOrganization(context.app, requestOf(context), id);
  }

  @Authorized(Roles.operators)
  @Mutation(() => Credential, { description: 'Adds an additional credential. It is enabled on no plan until a plan switches it on.' })
  async addCredential(@Arg('input', () => AddCredentialInput) input: AddCredentialInput, @Ctx() context: GraphQLContext): Promise<Credential> {
    return credentialOf(await addCredential(context.app, requestOf(context), input));
  }

  @Authorized(Roles.operators)
  @Mutation(() => Organization, {
    description:
      'A new authorizationUrl for an organization pending authorization (SSO), when the one addOrganization gave expired; earlier ones stop working.',
  })
  async authorizeOrganization(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<Organization> {
    return organizationOf(await authorizeOrganization(context.app, requestOf(context), id));
  }

  @Authorized(Roles.operators)
  @Mutation(() => Organization, { description: "Checks the main login's token with GitLab again; the outcome shows in token." })
  async verifyOrganization(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<Organization> {
    return organizationOf(await verifyOrganization(context.app, requestOf(context), id));
  }

  @Authorized(Roles.operators)
  @Mutation(() => Credential, { description: "Checks the credential's token with GitLab again; the outcome shows in status and token." })
  async verifyCredential(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<Credential> {
    return credentialOf(await verifyCredential(context.app, requestOf(context), id));
  }

  @Authorized(Roles.operators)
  @Mutation(() => Credential, { description: 'Removes the credential and switches it off on every plan that had it.' })
  async removeCredential(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<Credential> {
    return credentialOf(await removeCredential(context.app, requestOf(context), id));
  }
}

/** The fields of an organization that are looked up when asked for. */
@Resolver(() => Organization)
export class OrganizationFieldResolver {
  @FieldResolver(() => PasswordEntry, { nullable: true })
  password(@Root() organization: Organization, @Ctx() context: GraphQLContext): Promise<PasswordEntry | null> {
    return organization.passwordId === null ? Promise.resolve(null) : passwordById(readModels(context), tenantOf(context), organization.passwordId);
  }

  @FieldResolver(() => Device, { nullable: true })
  defaultDevice(@Root() organization: Organization, @Ctx() context: GraphQLContext): Promise<Device | null> {
    return deviceById(readModels(context), tenantOf(context), organization.defaultDeviceId);
  }

  @FieldResolver(() => [Credential])
  async credentials(@Root() organization: Organization, @Ctx() context: GraphQLContext): Promise<Credential[]> {
    return (await credentialsOf(readModels(context), tenantOf(context), organization.id)).map(credentialOf);
  }
}

@Resolver(() => Credential)
export class CredentialResolver {
  @FieldResolver(() => Organization)
  async organization(@Root() credential: Credential, @Ctx() context: GraphQLContext): Promise<Organization> {
    return owningOrganization(context, credential.organizationId);
  }

  @FieldResolver(() => PasswordEntry, { nullable: true })
  password(@Root() credential: Credential, @Ctx() context: GraphQLContext): Promise<PasswordEntry | null> {
    return passwordById(readModels(context), tenantOf(context), credential.passwordId);
  }
}

function syncOf(input: RepositoriesSyncInput): RepositoriesSync {
  const { times, intervalMinutes } = withoutNulls(input);
  return { times, intervalMinutes } as RepositoriesSync;
}
