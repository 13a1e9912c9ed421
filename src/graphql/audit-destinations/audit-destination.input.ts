import { ArrayMaxSize, IsNotEmpty, IsOptional, MaxLength } from 'class-validator';
import { Field, ID, InputType } from 'type-graphql';
import { PlainText } from '../shared/plain-text';

@InputType({ description: "A new SIEM destination. The rules on its URL and event types are the domain's: see AuditDestination." })
export class AddAuditDestinationInput {
  @Field(() => String)
  @IsNotEmpty({ message: 'name must not be empty' })
  @MaxLength(100)
  @PlainText('name')
  name!: string;

  @Field(() => String, {
    description:
      'https, or http to a loopback host (127.0.0.0/8, ::1, localhost); no user:password, no fragment. ' +
      'A token in the path or query is kept encrypted and shown masked; the host is shown.',
  })
  @IsNotEmpty({ message: 'url must not be empty' })
  @MaxLength(2048)
  url!: string;

  @Field(() => [String], { nullable: true, description: 'Event type names, such as PlanCredentialToggled; absent: every event.' })
  @IsOptional()
  @ArrayMaxSize(200)
  eventTypes?: string[] | null;

  @Field(() => ID, { description: 'The password entry whose secret is the HMAC-SHA256 key of the signatures.' })
  @IsNotEmpty({ message: 'passwordId must not be empty' })
  passwordId!: string;
}
