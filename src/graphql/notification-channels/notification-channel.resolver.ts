import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { addNotificationChannel, notificationChannels, removeNotificationChannel } from '../../app/notification-channels';
import { DomainError } from '../../core/errors';
import type { AddNotificationChannelInput as Given } from '../../app/notification-channels';
import type { NotificationChannelView } from '../../queries/notification-channels';
import { Roles } from '../auth-checker';
import { requestOf, tenantOf, type GraphQLContext } from '../context';
import { AddNotificationChannelInput } from './notification-channel.input';
import { NotificationChannel, type NotificationKind } from './notification-channel.type';

const channelOf = ({ tenantId: _tenant, target, kinds, delivery, ...view }: NotificationChannelView): NotificationChannel => ({
  ...view,
  url: target.type === 'WEBHOOK' ? target.shownUrl : null,
  email: target.type === 'EMAIL' ? target.address : null,
  kinds: kinds as NotificationKind[],
  delivery: { ...delivery },
});

/** One of url and email: a channel is a webhook or a mailbox. */
function targetOf(input: AddNotificationChannelInput): Given['target'] {
  const url = input.url ?? null;
  const email = input.email ?? null;
  if (url !== null && email !== null) throw new DomainError('INVALID_INPUT', 'url: give a url or an email, not both', 'url');
  if (url !== null) return { type: 'WEBHOOK', url };
  if (email !== null) return { type: 'EMAIL', address: email };
  throw new DomainError('INVALID_INPUT', 'url: give a url (webhook) or an email', 'url');
}

@Resolver(() => NotificationChannel)
export class NotificationChannelResolver {
  @Authorized(Roles.admins)
  @Query(() => [NotificationChannel], { description: "The tenant's notification channels, by name, with where each one's notices stand." })
  async notificationChannels(@Ctx() context: GraphQLContext): Promise<NotificationChannel[]> {
    return (await notificationChannels(context.app, tenantOf(context))).map(channelOf);
  }

  @Authorized(Roles.admins)
  @Mutation(() => NotificationChannel, { description: 'Adds a notification channel: it is told of what needs a person among the events recorded after it.' })
  async addNotificationChannel(
    @Arg('input', () => AddNotificationChannelInput) input: AddNotificationChannelInput,
    @Ctx() context: GraphQLContext,
  ): Promise<NotificationChannel> {
    return channelOf(await addNotificationChannel(context.app, requestOf(context), { name: input.name, target: targetOf(input), kinds: input.kinds }));
  }

  @Authorized(Roles.admins)
  @Mutation(() => ID, { description: 'Removes a notification channel: nothing more is sent to it.' })
  removeNotificationChannel(@Arg('id', () => ID) id: string, @Ctx() context: GraphQLContext): Promise<string> {
    return removeNotificationChannel(context.app, requestOf(context), id);
  }
}
