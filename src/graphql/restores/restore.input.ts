import { IsOptional, Matches, MaxLength } from 'class-validator';
import { Field, ID, InputType } from 'type-graphql';
import { PlainText } from '../shared/plain-text';
import { RestoreTarget } from './restore.type';

@InputType({ description: 'GITLAB_PROJECT needs namespacePath, projectName and passwordId; ARCHIVE none of them.' })
export class RestoreSnapshotInput {
  @Field(() => ID)
  snapshotId!: string;

  @Field(() => RestoreTarget, { defaultValue: RestoreTarget.GITLAB_PROJECT })
  target: RestoreTarget = RestoreTarget.GITLAB_PROJECT;

  @Field(() => String, { nullable: true, description: 'The full path of the GitLab group the new project goes into, such as acme/restored.' })
  @IsOptional()
  @MaxLength(1024)
  @PlainText('namespacePath')
  namespacePath?: string;

  @Field(() => String, { nullable: true, description: "The new project's path in the namespace; a project there already is refused." })
  @IsOptional()
  @MaxLength(255)
  @Matches(/^[a-zA-Z0-9_][a-zA-Z0-9_.-]*$/, { message: "projectName has letters, digits, '_', '-' and '.', and does not start with '-' or '.'" })
  projectName?: string;

  @Field(() => ID, { nullable: true, description: 'The password entry holding a token with the scopes api and write_repository.' })
  @IsOptional()
  passwordId?: string;
}
