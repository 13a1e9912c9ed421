import { createHash } from 'node:crypto';
import {
  auditDestination,
  type AuditDestinationCommand,
  type AuditDestinationEvent,
  EVENT_TYPE_NAMES,
  isLoopbackHost,
  MAX_AUDIT_DESTINATIONS,
} from '../../src/domain/audit-destination';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(auditDestination);

type AddData = Extract<AuditDestinationCommand, { type: 'AddAuditDestination' }>['data'];
const add = (overrides: Partial<AddData> = {}): AuditDestinationCommand => ({
  type: 'AddAuditDestination',
  data: {
    id: 'd1',
    name: 'siem',
    url: 'https://siem.example.test/ingest',
    urlSecretId: 'u1',
    eventTypes: null,
    passwordId: 'p1',
    addedAt: '2026-01-02T03:04:05.000Z',
    known: { nameTaken: false, passwordExists: true, destinations: 0 },
    ...overrides,
  },
});
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** What the event holds of a URL: never the URL itself. */
const urlFacts = (href: string, maskedUrl: string) => ({ maskedUrl, urlSha256: sha256(href), urlSecretId: 'u1' });
const added: AuditDestinationEvent = {
  type: 'AuditDestinationAdded',
  data: {
    id: 'd1',
    name: 'siem',
    ...urlFacts('https://siem.example.test/ingest', 'https://siem.example.test/***'),
    eventTypes: null,
    passwordId: 'p1',
    addedAt: '2026-01-02T03:04:05.000Z',
  },
};
const removed: AuditDestinationEvent = { type: 'AuditDestinationRemoved', data: { id: 'd1', name: 'siem', urlSecretId: 'u1' } };
const remove: AuditDestinationCommand = { type: 'RemoveAuditDestination', data: { id: 'd1' } };

describe('audit destination', () => {
  describe('AddAuditDestination', () => {
    it('adds a destination by its URL and the password entry of its secret', () => {
      spec.given([]).when(add()).then([added]);
    });

    it('trims the name, and keeps each event type once', () => {
      spec
        .given([])
        .when(add({ name: ' siem ', eventTypes: ['PlanCreated', 'PlanDeleted', 'PlanCreated'] }))
        .then([{ ...added, data: { ...added.data, eventTypes: ['PlanCreated', 'PlanDeleted'] } }]);
    });

    it('takes http to a loopback host only', () => {
      for (const [url, masked] of [
        ['http://127.0.0.1:9000/in', 'http://127.0.0.1:9000/***'],
        ['http://127.8.9.10/in', 'http://127.8.9.10/***'],
        ['http://localhost:1/', 'http://localhost:1/'],
        ['http://[::1]:8080/x', 'http://[::1]:8080/***'],
      ]) {
        spec
          .given([])
          .when(add({ url }))
          .then([{ ...added, data: { ...added.data, ...urlFacts(new URL(url).href, masked) } }]);
      }
      for (const url of ['http://siem.example.test/in', 'http://10.0.0.1/in', 'http://128.0.0.1/', 'ftp://127.0.0.1/']) {
        spec
          .given([])
          .when(add({ url }))
          .thenRefuses('INVALID_INPUT', /^url: must be https/);
      }
    });

    it('keeps a token in the path or the query out of the event: origin, masked path, marked query, and the hash of the whole URL', () => {
      const token = ['tok', 'en', '-in-path-', 'Zm9vYmFy'].join('');
      const key = ['api', 'key', '-', 'c2VjcmV0'].join('');
      const url = `https://collectors.example.test:8443/receiver/v1/http/${token}/?dd-api-key=${key}&x=1`;
      const recorded = spec.given([]).when(add({ url }));
      recorded.then([
        {
          ...added,
          data: { ...added.data, ...urlFacts(new URL(url).href, 'https://collectors.example.test:8443/***/***/***/***/?***') },
        },
      ]);
      const written = JSON.stringify(auditDestination.decide(add({ url }), auditDestination.initialState()));
      expect(written).not.toContain(token);
      expect(written).not.toContain(key);
    });

    it(`refuses a destination beyond ${MAX_AUDIT_DESTINATIONS} for a tenant, naming the rule`, () => {
      spec
        .given([])
        .when(add({ known: { nameTaken: false, passwordExists: true, destinations: MAX_AUDIT_DESTINATIONS - 1 } }))
        .then([added]);
      spec
        .given([])
        .when(add({ known: { nameTaken: false, passwordExists: true, destinations: MAX_AUDIT_DESTINATIONS } }))
        .thenRefuses('CONFLICT', /^audit destinations: a tenant has at most 10 at once/);
    });

    it('refuses a URL with credentials or a fragment, or no URL at all', () => {
      spec
        .given([])
        .when(add({ url: 'https://user:secret@siem.example.test/' }))
        .thenRefuses('INVALID_INPUT', /^url: must not carry credentials/);
      spec
        .given([])
        .when(add({ url: 'https://siem.example.test/#x' }))
        .thenRefuses('INVALID_INPUT', /^url: must not carry a fragment/);
      spec
        .given([])
        .when(add({ url: 'https://siem.example.test/#' }))
        .thenRefuses('INVALID_INPUT', /^url: must not carry a fragment/);
      spec
        .given([])
        .when(add({ url: 'siem' }))
        .thenRefuses('INVALID_INPUT', /^url: not a URL/);
    });

    it('refuses unknown event types, naming them, and an empty list', () => {
      spec
        .given([])
        .when(add({ eventTypes: ['PlanCreated', 'NoSuchEvent'] }))
        .thenRefuses('INVALID_INPUT', /^eventTypes: unknown event type "NoSuchEvent"$/);
      spec
        .given([])
        .when(add({ eventTypes: [] }))
        .thenRefuses('INVALID_INPUT', /^eventTypes:/);
    });

    it('refuses an empty or taken name, a missing password entry, and a second add', () => {
      spec
        .given([])
        .when(add({ name: '  ' }))
        .thenRefuses('INVALID_INPUT', /^name:/);
      spec
        .given([])
        .when(add({ known: { nameTaken: true, passwordExists: true, destinations: 0 } }))
        .thenRefuses('CONFLICT', /^name: .*"siem" already exists/);
      spec
        .given([])
        .when(add({ known: { nameTaken: false, passwordExists: false, destinations: 0 } }))
        .thenRefuses('INVALID_INPUT', /^passwordId: no password p1/);
      spec.given([added]).when(add()).thenRefuses('CONFLICT');
    });
  });

  describe('RemoveAuditDestination', () => {
    it('removes an added destination, naming it', () => {
      spec.given([added]).when(remove).then([removed]);
    });

    it('removes one added while URLs were recorded whole, with no vault entry to destroy', () => {
      const { maskedUrl: _masked, urlSha256: _sha, urlSecretId: _secret, ...rest } = added.data;
      const legacy = { type: 'AuditDestinationAdded', data: { ...rest, url: 'https://siem.example.test/ingest' } } as unknown as AuditDestinationEvent;
      spec
        .given([legacy])
        .when(remove)
        .then([{ ...removed, data: { ...removed.data, urlSecretId: null } }]);
    });

    it('refuses one never added or already removed', () => {
      spec.given([]).when(remove).thenRefuses('NOT_FOUND');
      spec.given([added, removed]).when(remove).thenRefuses('NOT_FOUND');
    });
  });

  it('knows the event types recorded, its own included, and loopback hosts', () => {
    expect(EVENT_TYPE_NAMES).toEqual(expect.arrayContaining(['AuditDestinationAdded', 'PlanCredentialToggled', 'BackupTaskFailed', 'TenantCreated']));
    expect(isLoopbackHost('LOCALHOST')).toBe(true);
    expect(isLoopbackHost('127.0.0.1.example.test')).toBe(false);
  });
});
