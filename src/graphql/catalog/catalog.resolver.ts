import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { registerDevice } from '../../app/devices';
import { changePassword, deletePassword, storePassword } from '../../app/passwords';
import { devicesOf, passwordsOf } from '../../queries/catalog';
import { Roles } from '../auth-checker';
import { readModels, requestOf, tenantOf, type GraphQLContext } from '../context';
import { withoutNulls } from '../shared/without-nulls';
import { ChangePasswordInput, RegisterDeviceInput, StorePasswordInput } from './catalog.input';
import { Device, PasswordEntry } from './catalog.type';

@Resolver()
export class CatalogResolver {
  @Authorized(Roles.readers)
  @Query(() => [Device])
  devices(@Ctx() context: GraphQLContext): Promise<Device[]> {
    return devicesOf(readModels(context), tenantOf(context));
  }

  @Authorized(Roles.readers)
  @Query(() => [PasswordEntry], { description: "The password manager's entries: names and fingerprints, never secrets." })
  passwords(@Ctx() context: GraphQLContext): Promise<PasswordEntry[]> {
    return passwordsOf(readModels(context), tenantOf(context));
  }

  @Authorized(Roles.operators)
  @Mutation(() => Device)
  registerDevice(@Arg('input', () => RegisterDeviceInput) input: RegisterDeviceInput, @Ctx() context: GraphQLContext): Promise<Device> {
    return registerDevice(context.app, requestOf(context), input);
  }

  @Authorized(Roles.operators)
  @Mutation(() => PasswordEntry)
  storePassword(@Arg('input', () => StorePasswordInput) input: StorePasswordInput, @Ctx() context: GraphQLContext): Promise<PasswordEntry> {
    return storePassword(context.app, requestOf(context), input);
  }

  @Authorized(Roles.operators)
  @Mutation(() => PasswordEntry)
  changePassword(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => ChangePasswordInput) input: ChangePasswordInput,
    @Ctx() context: GraphQLContext,
  ): Promise<PasswordEntry> {
    return changePassword(context.app, requestOf(context), id, withoutNulls(input));
  }

  @Authorized(Roles.operators)
  @Mutation(() => ID, { description: 'Deletes the entry and destroys its secret; refused while an organization or credential uses it.' })
  deletePassword(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<string> {
    return deletePassword(context.app, requestOf(context), id);
  }
}
