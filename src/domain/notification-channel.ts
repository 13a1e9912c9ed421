// NotificationChannel: where a tenant is told of what needs a person (a failed task, a revoked
// credential...): a webhook that takes Slack-compatible JSON, or an e-mail address. Which kinds
// of notice it wants is its own choice; who added and removed it, the history says. A webhook's
// URL is its credential (Slack's carries the token in its path): it is kept encrypted beside the
// passwords, and events hold only its origin with the path masked.
import { admissibleUrl, maskedUrl } from './audit-destination';
import type { Decider } from './decider';
import { DomainError } from './errors';

/** What needs a person, each kind read from events of the log. */
export const NOTIFICATION_KINDS = [
  'TASK_FAILED',
  'TASK_WARNINGS',
  'TASK_THROTTLED',
  'CREDENTIAL_EXPIRING',
  'CREDENTIAL_REVOKED',
  'VERIFICATION_FAILED',
  'SYNC_FAILED',
  'SNAPSHOT_VERIFICATION_FAILED',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** Channels a tenant may have at once: each one is a loop reading the log, and a lease on the database. */
export const MAX_NOTIFICATION_CHANNELS = 10;

/** Where notices go, as recorded: a webhook's URL as it may be shown, and the vault entry of the whole of it. */
export type NotificationTarget = { type: 'WEBHOOK'; shownUrl: string; urlSecretId: string } | { type: 'EMAIL'; address: string };

/** As given: a webhook's whole URL, judged here and never written, and where the caller keeps it encrypted. */
export type GivenTarget = { type: 'WEBHOOK'; url: string; urlSecretId: string } | { type: 'EMAIL'; address: string };

export interface NotificationChannelAddition {
  id: string;
  name: string;
  target: NotificationTarget;
  kinds: NotificationKind[];
  addedAt: string;
}

export type NotificationChannelEvent =
  | { type: 'NotificationChannelAdded'; data: NotificationChannelAddition }
  /** urlSecretId: a webhook's encrypted URL, destroyed with the channel; null for an e-mail channel. */
  | { type: 'NotificationChannelRemoved'; data: { id: string; name: string; urlSecretId: string | null } };

export type NotificationChannelCommand =
  | {
      type: 'AddNotificationChannel';
      /** known: looked up under the tenant lock: another channel of the tenant has the name; how many it has now. */
      data: Omit<NotificationChannelAddition, 'target'> & { target: GivenTarget; known: { nameTaken: boolean; channels: number } };
    }
  | { type: 'RemoveNotificationChannel'; data: { id: string } };

export interface NotificationChannelState {
  status: 'none' | 'added' | 'removed';
  name: string;
  urlSecretId: string | null;
}

export const notificationChannel: Decider<NotificationChannelState, NotificationChannelCommand, NotificationChannelEvent> = {
  initialState: () => ({ status: 'none', name: '', urlSecretId: null }),
  evolve(state, event) {
    switch (event.type) {
      case 'NotificationChannelAdded':
        return { status: 'added', name: event.data.name, urlSecretId: event.data.target.type === 'WEBHOOK' ? event.data.target.urlSecretId : null };
      case 'NotificationChannelRemoved':
        return { ...state, status: 'removed' };
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'AddNotificationChannel': {
        const { known, ...addition } = command.data;
        const name = addition.name.trim();
        if (state.status !== 'none') throw new DomainError('CONFLICT', `notification channel ${addition.id} already exists`);
        if (name === '') throw new DomainError('INVALID_INPUT', 'name: a notification channel needs a name', 'name');
        if (known.nameTaken) throw new DomainError('CONFLICT', `name: a notification channel named "${name}" already exists`, 'name');
        if (known.channels >= MAX_NOTIFICATION_CHANNELS)
          throw new DomainError(
            'CONFLICT',
            `a tenant has at most ${MAX_NOTIFICATION_CHANNELS} notification channels at once; remove one before adding another`,
          );
        const target = admissibleTarget(addition.target);
        const kinds = admissibleKinds(addition.kinds);
        return [{ type: 'NotificationChannelAdded', data: { ...addition, name, target, kinds } }];
      }
      case 'RemoveNotificationChannel': {
        if (state.status !== 'added') throw new DomainError('NOT_FOUND', `no notification channel ${command.data.id}`);
        return [{ type: 'NotificationChannelRemoved', data: { id: command.data.id, name: state.name, urlSecretId: state.urlSecretId } }];
      }
    }
  },
};

/** A webhook's URL follows a SIEM destination's rules (https, or http to this machine); an address is one mailbox. */
function admissibleTarget(target: GivenTarget): NotificationTarget {
  if (target.type === 'WEBHOOK') return { type: 'WEBHOOK', shownUrl: maskedUrl(admissibleUrl(target.url)), urlSecretId: target.urlSecretId };
  return { type: 'EMAIL', address: admissibleAddress(target.address) };
}

/**
 * One mailbox, local@domain, in plain ASCII without spaces, quotes, commas or angle brackets: a
 * list or a display name could smuggle further recipients or headers into the message.
 */
export function admissibleAddress(text: string): string {
  const address = text.trim();
  if (address.length > 254 || !/^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(address))
    throw new DomainError('INVALID_INPUT', 'email: not one e-mail address (local@domain)', 'email');
  return address;
}

/** Known kinds, once each, in the order of NOTIFICATION_KINDS; an empty list would never notify, which nobody means. */
function admissibleKinds(kinds: readonly string[]): NotificationKind[] {
  if (kinds.length === 0) throw new DomainError('INVALID_INPUT', 'kinds: give at least one kind of notification', 'kinds');
  const unknown = kinds.filter((kind) => !(NOTIFICATION_KINDS as readonly string[]).includes(kind));
  if (unknown.length > 0) throw new DomainError('INVALID_INPUT', `kinds: unknown kind ${unknown.map((kind) => JSON.stringify(kind)).join(', ')}`, 'kinds');
  return NOTIFICATION_KINDS.filter((kind) => kinds.includes(kind));
}

export const notificationChannelStream = (id: string) => `notification-channel-${id}`;
