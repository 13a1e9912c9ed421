import { randomUUID } from 'node:crypto';
import { admissibleUrl } from '../domain/audit-destination';
import {
  type GivenTarget,
  type NotificationChannelCommand,
  type NotificationKind,
  notificationChannel,
  notificationChannelStream,
} from '../domain/notification-channel';
import {
  type NotificationChannelView,
  notificationChannelById,
  notificationChannelCount,
  notificationChannelNameTaken,
  notificationChannelsOf,
} from '../queries/notification-channels';
import { type AppDeps, type Request, writeWith } from './deps';
import { found } from './found';
import { executeLocked } from './locked-command';

export interface AddNotificationChannelInput {
  name: string;
  target: { type: 'WEBHOOK'; url: string } | { type: 'EMAIL'; address: string };
  kinds: NotificationKind[];
}

/** Adds a channel: it is told of what needs a person among the events recorded after its addition. */
export async function addNotificationChannel(deps: AppDeps, request: Request, input: AddNotificationChannelInput): Promise<NotificationChannelView> {
  const { tenantId } = request.principal;
  const id = randomUUID();
  const stream = notificationChannelStream(id);
  // A webhook's URL is its credential: kept encrypted, as the decider will judge it, before anything is recorded.
  const urlSecretId = input.target.type === 'WEBHOOK' ? await deps.vault.put(tenantId, admissibleUrl(input.target.url)) : null;
  const target: GivenTarget = input.target.type === 'WEBHOOK' ? { ...input.target, urlSecretId: urlSecretId! } : input.target;
  await writeWith(
    deps,
    stream,
    () =>
      executeLocked(
        deps,
        request,
        notificationChannel,
        stream,
        async (): Promise<NotificationChannelCommand> => ({
          type: 'AddNotificationChannel',
          data: {
            id,
            name: input.name,
            target,
            kinds: input.kinds,
            addedAt: new Date().toISOString(),
            known: {
              nameTaken: await notificationChannelNameTaken(deps.db, tenantId, input.name),
              channels: await notificationChannelCount(deps.db, tenantId),
            },
          },
        }),
      ),
    async () => {
      if (urlSecretId !== null) await deps.vault.discard(urlSecretId);
    },
  );
  return found(await notificationChannelById(deps.db, tenantId, id), 'notification channel', id);
}

/** Removes a channel: nothing more is sent to it. */
export async function removeNotificationChannel(deps: AppDeps, request: Request, id: string): Promise<string> {
  found(await notificationChannelById(deps.db, request.principal.tenantId, id), 'notification channel', id);
  await executeLocked(
    deps,
    request,
    notificationChannel,
    notificationChannelStream(id),
    async (): Promise<NotificationChannelCommand> => ({ type: 'RemoveNotificationChannel', data: { id } }),
  );
  return id;
}

export function notificationChannels(deps: AppDeps, tenantId: string): Promise<NotificationChannelView[]> {
  return notificationChannelsOf(deps.db, tenantId);
}
