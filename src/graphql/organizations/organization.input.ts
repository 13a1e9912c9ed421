import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsInt, IsNotEmpty, IsOptional, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { Field, ID, InputType, Int } from 'type-graphql';
import { AuthMethodName, Provider } from './organization.type';
import { PlainText } from '../shared/plain-text';

@InputType({ description: 'Exactly one of times or intervalMinutes.' })
export class RepositoriesSyncInput {
  @Field(() => [String], { nullable: true, description: '1 to 24 distinct times of day as HH:MM, UTC.' })
  @IsOptional()
  @ArrayMinSize(1, { message: 'times takes 1 to 24 times of day' })
  @ArrayMaxSize(24, { message: 'times takes 1 to 24 times of day' })
  @ArrayUnique({ message: 'times must be distinct' })
  @Matches(/^([01]\d|2[0-3]):[0-5]\d$/, { each: true, message: 'each time must be HH:MM (UTC), from 00:00 to 23:59' })
  times?: string[];

  @Field(() => Int, { nullable: true, description: '15 to 1440.' })
  @IsOptional()
  @IsInt()
  @Min(15, { message: 'intervalMinutes must be at least 15' })
  @Max(1440, { message: 'intervalMinutes must be at most 1440' })
  intervalMinutes?: number;
}

@InputType()
export class AddOrganizationInput {
  @Field(() => Provider, { defaultValue: Provider.GITLAB })
  provider: Provider = Provider.GITLAB;

  @Field(() => String, { description: "The GitLab group's full path, such as acme/platform." })
  @IsNotEmpty({ message: 'name must not be empty' })
  @MaxLength(255)
  @PlainText('name')
  name!: string;

  @Field(() => String, { defaultValue: 'https://gitlab.com' })
  @MaxLength(2048)
  gitlabUrl: string = 'https://gitlab.com';

  @Field(() => AuthMethodName)
  authMethod!: AuthMethodName;

  @Field(() => String, { nullable: true, description: 'Required with TOKEN: the GitLab username the token belongs to.' })
  @IsOptional()
  @MaxLength(255)
  @PlainText('login')
  login?: string;

  @Field(() => ID, { nullable: true, description: 'Required with TOKEN: the password entry holding the token.' })
  @IsOptional()
  passwordId?: string;

  @Field(() => Boolean, { defaultValue: false })
  protectGroups: boolean = false;

  @Field(() => Boolean, { defaultValue: false })
  autoAddNewRepositories: boolean = false;

  @Field(() => RepositoriesSyncInput)
  @ValidateNested()
  repositoriesSync!: RepositoriesSyncInput;

  @Field(() => ID)
  defaultDeviceId!: string;
}

@InputType()
export class OrganizationSettingsInput {
  @Field(() => Boolean, { nullable: true })
  protectGroups?: boolean;

  @Field(() => Boolean, { nullable: true })
  autoAddNewRepositories?: boolean;

  @Field(() => RepositoriesSyncInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  repositoriesSync?: RepositoriesSyncInput;
}

@InputType()
export class AddCredentialInput {
  @Field(() => ID)
  organizationId!: string;

  @Field(() => String)
  @IsNotEmpty({ message: 'login must not be empty' })
  @MaxLength(255)
  @PlainText('login')
  login!: string;

  @Field(() => ID)
  passwordId!: string;
}
