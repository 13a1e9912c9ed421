import { Field, ID, ObjectType } from 'type-graphql';

/** Who did something, as the history records it. */
@ObjectType({ description: 'Who did something: an API token (by its id and name) or Backplane itself.' })
export class Actor {
  @Field(() => ID, { nullable: true })
  id!: string | null;

  @Field(() => String, { nullable: true })
  name!: string | null;

  @Field(() => String, { nullable: true, description: 'The role the actor acted in.' })
  role!: string | null;

  @Field(() => String, { nullable: true, description: 'api-token or system.' })
  kind!: string | null;
}
