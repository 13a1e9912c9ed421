import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsInt, IsNotEmpty, IsOptional, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { Field, ID, InputType, Int } from 'type-graphql';
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

@InputType({ description: 'One of times or intervalMinutes.' })
export class PlanScheduleInput {
  @Field(() => [String], { nullable: true, description: '1 to 24 distinct times of day as HH:MM, UTC.' })
  @IsOptional()
  @ArrayMinSize(1, { message: 'times takes 1 to 24 times of day' })
  @ArrayMaxSize(24, { message: 'times takes 1 to 24 times of day' })
  @ArrayUnique({ message: 'times must be distinct' })
  @Matches(/^([01]\d|2[0-3]):[0-5]\d$/, { each: true, message: 'each time must be HH:MM (UTC), from 00:00 to 23:59' })
  times?: string[];

  @Field(() => Int, { nullable: true, description: '15 to 10080 (a week).' })
  @IsOptional()
  @IsInt()
  @Min(15, { message: 'intervalMinutes must be at least 15' })
  @Max(10_080, { message: 'intervalMinutes must be at most 10080' })
  intervalMinutes?: number;
}

const keep = (name: string) => [
  IsOptional(),
  IsInt({ message: `${name} must be a whole number` }),
  Min(1, { message: `${name} must be at least 1 (leave it unset for no limit)` }),
  Max(10_000, { message: `${name} must be at most 10000` }),
];

function Keep(name: string): PropertyDecorator {
  return (target, property) => {
    for (const decorator of keep(name)) decorator(target, property);
  };
}

@InputType({ description: "A plan's backup settings, all at once: a field left unset takes its default (the default storage, no schedule, no limit)." })
export class PlanBackupSettingsInput {
  @Field(() => ID, { nullable: true, description: "Unset: the tenant's default storage." })
  @IsOptional()
  storageId?: string;

  @Field(() => PlanScheduleInput, { nullable: true, description: 'Unset: the plan runs only when asked to.' })
  @IsOptional()
  @ValidateNested()
  schedule?: PlanScheduleInput;

  @Field(() => Int, { nullable: true, description: 'Keep the N newest snapshots of each repository (1 to 10000).' })
  @Keep('keepLast')
  keepLast?: number;

  @Field(() => Int, { nullable: true, description: 'Keep the newest snapshot of each of the N latest days that have one (UTC).' })
  @Keep('keepDaily')
  keepDaily?: number;

  @Field(() => Int, { nullable: true, description: 'Keep the newest snapshot of each of the N latest ISO weeks that have one.' })
  @Keep('keepWeekly')
  keepWeekly?: number;

  @Field(() => Int, { nullable: true, description: 'Keep the newest snapshot of each of the N latest months that have one.' })
  @Keep('keepMonthly')
  keepMonthly?: number;
}
