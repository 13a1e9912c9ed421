import { ArrayMaxSize, IsOptional } from 'class-validator';
import { Field, ID, InputType } from 'type-graphql';
import { DateTime } from '../shared/scalars';

@InputType({ description: 'Every given field must match.' })
export class AuditFilter {
  @Field(() => ID, { nullable: true })
  organizationId?: string;

  @Field(() => ID, { nullable: true })
  planId?: string;

  @Field(() => ID, { nullable: true })
  credentialId?: string;

  @Field(() => ID, { nullable: true })
  actorId?: string;

  @Field(() => [String], { nullable: true, description: 'Event types, such as PlanCredentialToggled.' })
  @IsOptional()
  @ArrayMaxSize(100)
  types?: string[];

  @Field(() => DateTime, { nullable: true, description: 'From this instant, inclusive.' })
  from?: Date;

  @Field(() => DateTime, { nullable: true, description: 'Until this instant, exclusive.' })
  to?: Date;
}
