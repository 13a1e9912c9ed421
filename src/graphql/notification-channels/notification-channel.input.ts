import { ArrayMaxSize, IsNotEmpty, IsOptional, MaxLength } from 'class-validator';
import { Field, InputType } from 'type-graphql';
import { PlainText } from '../shared/plain-text';
import { NotificationKind } from './notification-channel.type';

@InputType({ description: 'A new notification channel: a url (webhook) or an email, one of the two.' })
export class AddNotificationChannelInput {
  @Field(() => String)
  @IsNotEmpty({ message: 'name must not be empty' })
  @MaxLength(100)
  @PlainText('name')
  name!: string;

  @Field(() => String, {
    nullable: true,
    description: 'A webhook taking Slack-compatible JSON: https, or http to a loopback host; no credentials, no fragment.',
  })
  @IsOptional()
  @MaxLength(2048)
  url?: string | null;

  @Field(() => String, { nullable: true, description: 'One e-mail address (local@domain).' })
  @IsOptional()
  @MaxLength(254)
  email?: string | null;

  @Field(() => [NotificationKind], { description: 'What the channel is told of; at least one.' })
  @ArrayMaxSize(20)
  kinds!: NotificationKind[];
}
