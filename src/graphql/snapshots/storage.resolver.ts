import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { addStorage, removeStorage } from '../../app/backup/storage-commands';
import { storagesOf } from '../../app/backup/storages';
import { Roles } from '../auth-checker';
import { requestOf, tenantOf, type GraphQLContext } from '../context';
import { Storage } from './snapshot.type';
import { AddStorageInput } from './storage.input';
import { storageOf } from './storage.view';

@Resolver(() => Storage)
export class StorageResolver {
  @Authorized(Roles.readers)
  @Query(() => [Storage], { description: "The tenant's storages: the default one first, then those added, by name." })
  async storages(@Ctx() context: GraphQLContext): Promise<Storage[]> {
    return (await storagesOf(context.app, tenantOf(context))).map(storageOf);
  }

  @Authorized(Roles.admins)
  @Mutation(() => Storage, {
    description: 'Adds a storage; an S3 bucket must first take, return and forget a probe object with the secret from the password manager.',
  })
  async addStorage(@Arg('input', () => AddStorageInput) input: AddStorageInput, @Ctx() context: GraphQLContext): Promise<Storage> {
    const { s3 } = input;
    return storageOf(
      await addStorage(context.app, requestOf(context), {
        name: input.name,
        kind: input.kind,
        s3: s3 ? { ...s3, endpoint: s3.endpoint ?? null } : undefined,
      }),
    );
  }

  @Authorized(Roles.admins)
  @Mutation(() => ID, { description: 'Removes a storage that keeps no snapshot. The default storage stays. What the bucket or folder holds is left as it is.' })
  removeStorage(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<string> {
    return removeStorage(context.app, requestOf(context), id);
  }
}
