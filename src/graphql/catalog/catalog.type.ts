import { Field, ID, ObjectType } from 'type-graphql';
import { DateTime } from '../shared/scalars';

@ObjectType({ description: 'Where backups run. The server itself is the built-in device "local".' })
export class Device {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => Boolean)
  builtIn!: boolean;

  @Field(() => DateTime)
  registeredAt!: Date;
}

@ObjectType({ description: 'An entry of the password manager. Its secret is never shown: only a fingerprint.' })
export class PasswordEntry {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String)
  description!: string;

  @Field(() => String, { description: 'The last four characters of a long secret, or dots: enough to tell entries apart.' })
  fingerprint!: string;

  @Field(() => DateTime)
  createdAt!: Date;

  @Field(() => DateTime)
  updatedAt!: Date;
}
