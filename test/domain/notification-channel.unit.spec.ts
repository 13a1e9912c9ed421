import { admissibleAddress, notificationChannel, type NotificationChannelCommand, type NotificationChannelEvent } from '../../src/domain/notification-channel';
import { maskedUrl } from '../../src/domain/audit-destination';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(notificationChannel);

type AddData = Extract<NotificationChannelCommand, { type: 'AddNotificationChannel' }>['data'];
const add = (overrides: Partial<AddData> = {}): NotificationChannelCommand => ({
  type: 'AddNotificationChannel',
  data: {
    id: 'c1',
    name: 'on call',
    target: { type: 'WEBHOOK', url: 'https://hooks.example.test/services/T0/B0/token', urlSecretId: 's1' },
    kinds: ['TASK_FAILED'],
    addedAt: '2026-01-02T03:04:05.000Z',
    known: { nameTaken: false, channels: 0 },
    ...overrides,
  },
});
type Added = Extract<NotificationChannelEvent, { type: 'NotificationChannelAdded' }>;
const added: Added = {
  type: 'NotificationChannelAdded',
  data: {
    id: 'c1',
    name: 'on call',
    target: { type: 'WEBHOOK', shownUrl: 'https://hooks.example.test/***/***/***/***', urlSecretId: 's1' },
    kinds: ['TASK_FAILED'],
    addedAt: '2026-01-02T03:04:05.000Z',
  },
};
const removed: Extract<NotificationChannelEvent, { type: 'NotificationChannelRemoved' }> = {
  type: 'NotificationChannelRemoved',
  data: { id: 'c1', name: 'on call', urlSecretId: 's1' },
};
const webhook = (url: string) => ({ type: 'WEBHOOK' as const, url, urlSecretId: 's1' });
const remove: NotificationChannelCommand = { type: 'RemoveNotificationChannel', data: { id: 'c1' } };

describe('notification channel', () => {
  describe('AddNotificationChannel', () => {
    it('adds a webhook with the kinds it wants, its URL shown masked and kept in the vault', () => {
      spec.given([]).when(add()).then([added]);
      expect(JSON.stringify(added)).not.toContain('token');
    });

    it('shows of a URL its origin, and marks a query', () => {
      expect(maskedUrl('https://hooks.example.test:8443/a/b?key=secret')).toBe('https://hooks.example.test:8443/***/***?***');
      expect(maskedUrl('https://hooks.example.test/')).toBe('https://hooks.example.test/');
    });

    it('adds an e-mail address', () => {
      spec
        .given([])
        .when(add({ target: { type: 'EMAIL', address: ' ops@example.test ' } }))
        .then([{ ...added, data: { ...added.data, target: { type: 'EMAIL', address: 'ops@example.test' } } }]);
    });

    it('trims the name and keeps each kind once, in the order of the kinds', () => {
      spec
        .given([])
        .when(add({ name: ' on call ', kinds: ['SYNC_FAILED', 'TASK_FAILED', 'SYNC_FAILED'] }))
        .then([{ ...added, data: { ...added.data, kinds: ['TASK_FAILED', 'SYNC_FAILED'] } }]);
    });

    it('takes a webhook over http to a loopback host only, and no credentials in it', () => {
      spec
        .given([])
        .when(add({ target: webhook('http://127.0.0.1:9000/hook') }))
        .then([{ ...added, data: { ...added.data, target: { type: 'WEBHOOK', shownUrl: 'http://127.0.0.1:9000/***', urlSecretId: 's1' } } }]);
      spec
        .given([])
        .when(add({ target: webhook('http://hooks.example.test/in') }))
        .thenRefuses('INVALID_INPUT', /^url: must be https/);
      spec
        .given([])
        .when(add({ target: webhook('https://user:pw@hooks.example.test/') }))
        .thenRefuses('INVALID_INPUT', /^url: must not carry credentials/);
    });

    it('refuses an address that is not one mailbox', () => {
      for (const address of [
        'ops',
        'ops@',
        'a@b',
        'Ops <ops@example.test>',
        'a@example.test, b@example.test',
        'a b@example.test',
        'a@example.test\nBcc: x@y.z',
      ]) {
        spec
          .given([])
          .when(add({ target: { type: 'EMAIL', address } }))
          .thenRefuses('INVALID_INPUT', /^email: /);
      }
      expect(admissibleAddress('first.last+tag@mail.example.test')).toBe('first.last+tag@mail.example.test');
    });

    it('refuses no kinds, and unknown kinds naming them', () => {
      spec
        .given([])
        .when(add({ kinds: [] }))
        .thenRefuses('INVALID_INPUT', /^kinds: give at least one/);
      spec
        .given([])
        .when(add({ kinds: ['TASK_FAILED', 'EVERYTHING' as never] }))
        .thenRefuses('INVALID_INPUT', /^kinds: unknown kind "EVERYTHING"/);
    });

    it('refuses an empty name, a name taken, and a channel that exists', () => {
      spec
        .given([])
        .when(add({ name: '  ' }))
        .thenRefuses('INVALID_INPUT', /^name: /);
      spec
        .given([])
        .when(add({ known: { nameTaken: true, channels: 1 } }))
        .thenRefuses('CONFLICT', /^name: a notification channel named "on call"/);
      spec.given([added]).when(add()).thenRefuses('CONFLICT');
    });

    it('refuses an eleventh channel of a tenant', () => {
      spec
        .given([])
        .when(add({ known: { nameTaken: false, channels: 9 } }))
        .then([added]);
      spec
        .given([])
        .when(add({ known: { nameTaken: false, channels: 10 } }))
        .thenRefuses('CONFLICT', /at most 10 notification channels/);
    });
  });

  describe('RemoveNotificationChannel', () => {
    it('removes a channel, naming it and the vault entry of its URL', () => {
      spec.given([added]).when(remove).then([removed]);
    });

    it('removes an e-mail channel, with no vault entry', () => {
      const mail: NotificationChannelEvent = {
        ...added,
        data: { ...added.data, target: { type: 'EMAIL', address: 'ops@example.test' } },
      } as NotificationChannelEvent;
      spec
        .given([mail])
        .when(remove)
        .then([{ ...removed, data: { ...removed.data, urlSecretId: null } } as NotificationChannelEvent]);
    });

    it('refuses a channel never added or already removed', () => {
      spec.given([]).when(remove).thenRefuses('NOT_FOUND');
      spec.given([added, removed]).when(remove).thenRefuses('NOT_FOUND');
    });
  });
});
