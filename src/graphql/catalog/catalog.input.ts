import { IsNotEmpty, IsOptional, MaxLength, MinLength } from 'class-validator';
import { Field, InputType } from 'type-graphql';
import { PlainText } from '../shared/plain-text';

const SECRET_MESSAGE = 'secret must be 8 to 4096 characters';

@InputType()
export class StorePasswordInput {
  @Field(() => String)
  @IsNotEmpty({ message: 'name must not be empty' })
  @MaxLength(200)
  @PlainText('name')
  name!: string;

  @Field(() => String, { description: 'Encrypted at rest; never shown again.' })
  @MinLength(8, { message: SECRET_MESSAGE })
  @MaxLength(4096, { message: SECRET_MESSAGE })
  secret!: string;

  @Field(() => String, { defaultValue: '' })
  @MaxLength(1000)
  description: string = '';
}

@InputType()
export class ChangePasswordInput {
  @Field(() => String, { nullable: true, description: 'The new secret: every organization and credential using the entry uses it from now on.' })
  @IsOptional()
  @MinLength(8, { message: SECRET_MESSAGE })
  @MaxLength(4096, { message: SECRET_MESSAGE })
  secret?: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(1000)
  description?: string;
}

@InputType()
export class RegisterDeviceInput {
  @Field(() => String)
  @IsNotEmpty({ message: 'name must not be empty' })
  @MaxLength(100)
  @PlainText('name')
  name!: string;
}
