import type { EventStore, Position, RecordedEvent, Subscription } from '../../eventstore/types';
import type { NotificationChannelView } from '../../queries/notification-channels';
import { backoffMs } from '../audit-delivery/backoff';
import type { NotificationStates } from './notification-state';
import { NOTICE_EVENT_TYPES, type NoticeSettings, noticeOf } from './notices';
import type { Senders } from './senders';

export interface NotifierSettings extends NoticeSettings {
  /** Each attempt's deadline (ms). */
  timeoutMs: number;
  /** The first wait after a failed attempt, doubled after each further one up to maxBackoffMs (ms). */
  minBackoffMs: number;
  maxBackoffMs: number;
}

/**
 * An attempt is claimed for this many attempt deadlines: a send's connection, greeting and idle
 * timeouts each run up to one, so a claim outlives the send it covers.
 */
const CLAIM_TIMEOUTS = 4;

export interface NotifierDeps {
  store: EventStore;
  states: NotificationStates;
  senders: Senders;
}

/**
 * Tells one channel of what needs a person, in log order, from its checkpoint (or, for a new
 * channel, from its addition). Each notice is recorded before it is sent and retried until the
 * channel takes it; the checkpoint moves only after, so a restart or a takeover resumes with the
 * first notice not yet sent, and a notice recorded as sent is never sent again. Each attempt is
 * claimed first: a holder that lost the lease mid-send keeps the next from sending beside it. The caller holds
 * the channel's lease. Resolves when stopped; rejects when reading fails.
 */
export function notifyChannel(deps: NotifierDeps, channel: NotificationChannelView, settings: NotifierSettings) {
  let stopped = false;
  let wake: (() => void) | undefined;
  let saved: Position | null = null;

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  /** Until sent ('sent'), or stopped; 'none' when the event is nothing this channel is told of. */
  const notify = async (event: RecordedEvent): Promise<'none' | 'sent' | 'stopped'> => {
    if (event.metadata.tenantId !== channel.tenantId) return 'none';
    const notice = noticeOf(event, settings);
    if (notice === null || !channel.kinds.includes(notice.kind)) return 'none';
    const sentBefore = await deps.states.recorded({
      channelId: channel.id,
      eventId: event.id,
      tenantId: channel.tenantId,
      kind: notice.kind,
      position: event.position,
      text: notice.text,
    });
    if (sentBefore) return 'sent';
    const outgoing = { notice, eventId: event.id, eventType: event.type, tenantId: channel.tenantId, recordedAt: event.recordedAt.toISOString() };
    let waited = 0;
    while (!stopped) {
      const claim = await deps.states.claim(channel.id, event.id, CLAIM_TIMEOUTS * settings.timeoutMs);
      if (claim === 'sent') return 'sent';
      if (claim === 'busy') {
        // Another process (one that lost this channel's lease) is sending it: its outcome decides.
        waited += 1;
        await pause(backoffMs(waited, settings.minBackoffMs, settings.maxBackoffMs));
        continue;
      }
      const outcome = await deps.senders.send(channel.target, outgoing);
      if (outcome.ok) {
        await deps.states.sent(channel.id, event.id);
        return 'sent';
      }
      const attempts = await deps.states.failed(channel.id, event.id, outcome.error);
      await pause(backoffMs(attempts, settings.minBackoffMs, settings.maxBackoffMs));
    }
    return 'stopped';
  };

  let subscription: Subscription | undefined;
  const done = (async () => {
    const from = (await deps.states.checkpoint(channel.id)) ?? channel.addedPosition;
    saved = from;
    if (stopped) return;
    subscription = deps.store.subscribeToAll({ fromPosition: from, filter: { eventTypes: [...NOTICE_EVENT_TYPES] }, maxBatch: 100 }, async (batch) => {
      for (const event of batch.events) {
        if (stopped) return;
        const outcome = await notify(event);
        // Stopped (its lease lost, maybe): the checkpoint is the next holder's now.
        if (outcome === 'stopped' || stopped) return;
        // A checkpoint per notice sent; events that needed nobody are passed with the batch.
        if (outcome === 'sent') {
          await deps.states.advanced(channel.id, event.position);
          saved = event.position;
        }
      }
      if (stopped || saved === batch.position) return;
      await deps.states.advanced(channel.id, batch.position);
      saved = batch.position;
    });
    await subscription.done;
  })();

  return {
    done,
    /** Leaves off after the attempt under way; a notice not yet sent stays for the next holder. */
    async stop() {
      stopped = true;
      wake?.();
      await subscription?.stop();
      await done.catch(() => undefined);
    },
  };
}
