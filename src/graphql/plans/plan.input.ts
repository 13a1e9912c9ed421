import { ArrayMaxSize, IsNotEmpty, MaxLength, ValidateNested } from 'class-validator';
import { Field, ID, InputType } from 'type-graphql';
import { PlainText } from '../shared/plain-text';

@InputType()
export class CreatePlanInput {
  @Field(() => ID)
  organizationId!: string;

  @Field(() => String)
  @IsNotEmpty({ message: 'name must not be empty' })
  @MaxLength(200)
  @PlainText('name')
  name!: string;
}

@InputType()
export class PlanCredentialChangeInput {
  @Field(() => ID)
  credentialId!: string;

  @Field(() => Boolean)
  enabled!: boolean;
}

@InputType({ description: "The plan edit panel's Save: every change in one go." })
export class UpdatePlanCredentialsInput {
  @Field(() => Boolean, { nullable: true })
  additionalCredentialsEnabled?: boolean;

  @Field(() => [PlanCredentialChangeInput], { defaultValue: [] })
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  credentials!: PlanCredentialChangeInput[];
}
