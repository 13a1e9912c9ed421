import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Credential } from '../organizations/organization.type';
import { Actor } from '../shared/actor.type';
import { DateTime } from '../shared/scalars';

@ObjectType({ description: 'A backup plan of one organization.' })
export class BackupPlan {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => ID)
  organizationId!: string;

  @Field(() => Boolean, { description: 'The "Additional git credentials" switch: off on a new plan.' })
  additionalCredentialsEnabled!: boolean;

  @Field(() => Int, { description: 'Changes with every change; pass it as expectedVersion to refuse a stale edit.' })
  version!: number;

  @Field(() => DateTime)
  createdAt!: Date;

  @Field(() => DateTime, { nullable: true })
  deletedAt!: Date | null;
}

@ObjectType({ description: 'A credential as one plan has it.' })
export class PlanCredential {
  @Field(() => Credential)
  credential!: Credential;

  @Field(() => Boolean, { description: 'Switched on for this plan.' })
  enabled!: boolean;

  @Field(() => Boolean, { description: "Used by the plan's backups: switched on, and the plan's additional credentials switch is on." })
  effective!: boolean;

  @Field(() => DateTime, { nullable: true })
  enabledAt!: Date | null;

  @Field(() => Actor, { nullable: true })
  enabledBy!: Actor | null;
}
