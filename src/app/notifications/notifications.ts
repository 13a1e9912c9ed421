import type { Logger } from '../../core/logger';
import { activeNotificationChannels } from '../../queries/notification-channels';
import type { SqlDatabase } from '../../sql/database';
import { startLeasedLoops } from '../leased-loops';
import { type NotifierDeps, type NotifierSettings, notifyChannel } from './channel-notifier';

export interface NotificationsSettings extends NotifierSettings {
  /** How often channels added, removed, or left by a process that died are looked for (ms). */
  scanEveryMs: number;
}

/** 10 s per attempt; retries from 1 s doubling to 5 min; channels looked for every 5 s; a throttle of 30 minutes or more is told. */
export const NOTIFICATION_DEFAULTS: NotificationsSettings = {
  timeoutMs: 10_000,
  minBackoffMs: 1000,
  maxBackoffMs: 5 * 60_000,
  scanEveryMs: 5000,
  throttledLongerThanMs: 30 * 60_000,
};

/**
 * Every process runs this; each channel is served by one process at a time, the holder of its
 * lease on the database (as SIEM destinations are), so a notice goes out once, not once per process.
 */
export function startNotifications(deps: NotifierDeps & { db: SqlDatabase }, logger: Logger, settings: NotificationsSettings) {
  const loops = startLeasedLoops(deps.db, logger, {
    list: () => activeNotificationChannels(deps.db),
    lockName: (channel) => `notification-channel:${channel.id}`,
    run: (channel) => notifyChannel(deps, channel, settings),
    scanEveryMs: settings.scanEveryMs,
    stoppedMessage: 'notifications stopped: they resume from the checkpoint',
    idField: 'channelId',
    listFailure: 'notification channels were not looked up',
  });
  return {
    async stop() {
      await loops.stop();
      deps.senders.close();
    },
  };
}
