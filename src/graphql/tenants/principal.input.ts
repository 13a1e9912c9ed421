import { IsNotEmpty, MaxLength } from 'class-validator';
import { Field, InputType } from 'type-graphql';
import { RoleName } from './principal.type';
import { PlainText } from '../shared/plain-text';

@InputType()
export class CreateApiTokenInput {
  @Field(() => String)
  @IsNotEmpty({ message: 'name must not be empty' })
  @MaxLength(100)
  @PlainText('name')
  name!: string;

  @Field(() => RoleName)
  role!: RoleName;
}
