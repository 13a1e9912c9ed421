import { admissibleAddress, notificationChannel, type NotificationChannelCommand, type NotificationChannelEvent } from '../../src/domain/notification-channel';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(notificationChannel);

type AddData = Extract<NotificationChannelCommand, { type: 'AddNotificationChannel' }>['data'];
const add = (overrides: Partial<AddData> = {}): NotificationChannelCommand => ({
  type: 'AddNotificationChannel',
  data: {
    id: 'c1',
    name: 'on call',
    target: { type: 'WEBHOOK', url: 'https://hooks.example.test/in' },
    kinds: ['TASK_FAILED'],
    addedAt: '2026-01-02T03:04:05.000Z',
    known: { nameTaken: false, channels: 0 },
    ...overrides,
  },
});
const added: NotificationChannelEvent = {
  type: 'NotificationChannelAdded',
  data: {
    id: 'c1',
    name: 'on call',
    target: { type: 'WEBHOOK', url: 'https://hooks.example.test/in' },
    kinds: ['TASK_FAILED'],
    addedAt: '2026-01-02T03:04:05.000Z',
  },
};
const removed: NotificationChannelEvent = { type: 'NotificationChannelRemoved', data: { id: 'c1', name: 'on call' } };
const remove: NotificationChannelCommand = { type: 'RemoveNotificationChannel', data: { id: 'c1' } };

describe('notification channel', () => {
  describe('AddNotificationChannel', () => {
    it('adds a webhook with the kinds it wants', () => {
      spec.given([]).when(add()).then([added]);
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
        .when(add({ target: { type: 'WEBHOOK', url: 'http://127.0.0.1:9000/hook' } }))
        .then([{ ...added, data: { ...added.data, target: { type: 'WEBHOOK', url: 'http://127.0.0.1:9000/hook' } } }]);
      spec
        .given([])
        .when(add({ target: { type: 'WEBHOOK', url: 'http://hooks.example.test/in' } }))
        .thenRefuses('INVALID_INPUT', /^url: must be https/);
      spec
        .given([])
        .when(add({ target: { type: 'WEBHOOK', url: 'https://user:pw@hooks.example.test/' } }))
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
    it('removes a channel, naming it', () => {
      spec.given([added]).when(remove).then([removed]);
    });

    it('refuses a channel never added or already removed', () => {
      spec.given([]).when(remove).thenRefuses('NOT_FOUND');
      spec.given([added, removed]).when(remove).thenRefuses('NOT_FOUND');
    });
  });
});
