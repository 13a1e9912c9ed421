// AuditDestination: a SIEM endpoint that receives the tenant's events as they are recorded, each
// signed with HMAC-SHA256 under a secret of the password manager. The secret never enters an
// event: the event names the password entry, read at delivery time. Nor does the URL, which may
// carry a collector's token in its path or query: it is kept encrypted beside the passwords, and
// the event holds only its origin with the path masked, and its SHA-256.
import { createHash } from 'node:crypto';
import type { AuditExportEvent } from './audit-export';
import type { CredentialEvent } from './credential';
import type { Decider } from './decider';
import type { DeviceEvent } from './device';
import { DomainError } from './errors';
import type { NotificationChannelEvent } from './notification-channel';
import type { OrganizationEvent } from './organization';
import type { PasswordEvent } from './password';
import type { PlanEvent } from './plan';
import type { PruneEvent } from './prune';
import type { RepositoryEvent } from './repository';
import type { RestoreEvent } from './restore';
import type { SnapshotEvent } from './snapshot';
import type { StorageEvent } from './storage';
import type { TaskEvent } from './task';
import type { TenantEvent } from './tenant';
import type { VerificationEvent } from './verification';

/** Destinations a tenant may have at once: each one is a loop reading the whole log, and a lease on the database. */
export const MAX_AUDIT_DESTINATIONS = 10;

export interface AuditDestinationAddition {
  id: string;
  name: string;
  /** The URL as it may be shown: scheme, host and port, each path segment masked, a query marked (maskedUrl). */
  maskedUrl: string;
  /** SHA-256 (hex) of the URL as normalised: whoever holds a URL can tell whether it is this one. */
  urlSha256: string;
  /** The vault entry holding the whole URL, encrypted; only the delivery reads it. */
  urlSecretId: string;
  /** Only events of these types go out; null: every event of the tenant. */
  eventTypes: string[] | null;
  /** The password manager's entry whose secret is the HMAC key. */
  passwordId: string;
  addedAt: string;
}

export type AuditDestinationEvent =
  | { type: 'AuditDestinationAdded'; data: AuditDestinationAddition }
  /** urlSecretId: the encrypted URL, destroyed with the destination (null: added before URLs went to the vault). */
  | { type: 'AuditDestinationRemoved'; data: { id: string; name: string; urlSecretId: string | null } };

export type AuditDestinationCommand =
  | {
      type: 'AddAuditDestination';
      /**
       * url: the whole URL, judged here and never written; urlSecretId: where the caller keeps it encrypted.
       * known: looked up under the tenant lock: another destination of the tenant has the name; the
       * password entry exists; how many destinations the tenant has now.
       */
      data: Omit<AuditDestinationAddition, 'maskedUrl' | 'urlSha256'> & {
        url: string;
        known: { nameTaken: boolean; passwordExists: boolean; destinations: number };
      };
    }
  | { type: 'RemoveAuditDestination'; data: { id: string } };

export interface AuditDestinationState {
  status: 'none' | 'added' | 'removed';
  name: string;
  urlSecretId: string | null;
}

export const auditDestination: Decider<AuditDestinationState, AuditDestinationCommand, AuditDestinationEvent> = {
  initialState: () => ({ status: 'none', name: '', urlSecretId: null }),
  evolve(state, event) {
    switch (event.type) {
      case 'AuditDestinationAdded':
        return { status: 'added', name: event.data.name, urlSecretId: event.data.urlSecretId ?? null };
      case 'AuditDestinationRemoved':
        return { ...state, status: 'removed' };
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'AddAuditDestination': {
        const { known, url: given, ...addition } = command.data;
        const name = addition.name.trim();
        if (state.status !== 'none') throw new DomainError('CONFLICT', `audit destination ${addition.id} already exists`);
        if (name === '') throw new DomainError('INVALID_INPUT', 'name: an audit destination needs a name', 'name');
        if (known.nameTaken) throw new DomainError('CONFLICT', `name: an audit destination named "${name}" already exists`, 'name');
        if (known.destinations >= MAX_AUDIT_DESTINATIONS)
          throw new DomainError('CONFLICT', `audit destinations: a tenant has at most ${MAX_AUDIT_DESTINATIONS} at once; remove one before adding another`);
        const url = admissibleUrl(given);
        const eventTypes = admissibleEventTypes(addition.eventTypes);
        if (!known.passwordExists)
          throw new DomainError(
            'INVALID_INPUT',
            `passwordId: no password ${addition.passwordId}: the signing secret is an entry of the password manager`,
            'passwordId',
          );
        return [
          {
            type: 'AuditDestinationAdded',
            data: { ...addition, name, maskedUrl: maskedUrl(url), urlSha256: urlSha256(url), eventTypes },
          },
        ];
      }
      case 'RemoveAuditDestination': {
        if (state.status !== 'added') throw new DomainError('NOT_FOUND', `no audit destination ${command.data.id}`);
        return [{ type: 'AuditDestinationRemoved', data: { id: command.data.id, name: state.name, urlSecretId: state.urlSecretId } }];
      }
    }
  },
};

/**
 * What may be shown of a destination's URL. Collectors put their token in the path (Sumo Logic)
 * or the query (Datadog, Splunk): every path segment is masked, a query is marked, and only the
 * origin stays readable. The host is shown: no secret may sit there.
 */
export function maskedUrl(admissible: string): string {
  const url = new URL(admissible);
  const path = url.pathname
    .split('/')
    .map((segment) => (segment === '' ? '' : '***'))
    .join('/');
  return `${url.origin}${path}${url.search === '' ? '' : '?***'}`;
}

/** SHA-256 (hex) of an admissible URL, normalised as admissibleUrl leaves it. */
export function urlSha256(admissible: string): string {
  return createHash('sha256').update(admissible, 'utf8').digest('hex');
}

/**
 * https, or http to this very machine (a collector beside Backplane): events are evidence and
 * must not cross a network in clear. No user:password in the URL (the signature authenticates; a
 * collector's token may sit in the path or the query, which are never shown) and no fragment
 * (never sent, so a sign of a mistaken URL).
 */
export function admissibleUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new DomainError('INVALID_INPUT', 'url: not a URL', 'url');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname)))
    throw new DomainError('INVALID_INPUT', 'url: must be https (http only to a loopback host: 127.0.0.0/8, ::1, localhost)', 'url');
  // Port 0 is no port anything listens on: every delivery would fail.
  if (url.port === '0') throw new DomainError('INVALID_INPUT', 'url: port 0 is no port to deliver to', 'url');
  if (url.username !== '' || url.password !== '') throw new DomainError('INVALID_INPUT', 'url: must not carry credentials', 'url');
  if (url.hash !== '' || text.includes('#')) throw new DomainError('INVALID_INPUT', 'url: must not carry a fragment', 'url');
  return url.href;
}

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Known event type names, once each; an empty list is refused (it would deliver nothing, which nobody means). */
function admissibleEventTypes(eventTypes: string[] | null): string[] | null {
  if (eventTypes === null) return null;
  if (eventTypes.length === 0) throw new DomainError('INVALID_INPUT', 'eventTypes: give at least one event type, or none for every event', 'eventTypes');
  const unknown = eventTypes.filter((type) => !isEventType(type));
  if (unknown.length > 0)
    throw new DomainError('INVALID_INPUT', `eventTypes: unknown event type ${unknown.map((type) => JSON.stringify(type)).join(', ')}`, 'eventTypes');
  return [...new Set(eventTypes)];
}

type EveryEvent =
  | AuditDestinationEvent
  | AuditExportEvent
  | CredentialEvent
  | DeviceEvent
  | NotificationChannelEvent
  | OrganizationEvent
  | PasswordEvent
  | PlanEvent
  | PruneEvent
  | RepositoryEvent
  | RestoreEvent
  | SnapshotEvent
  | StorageEvent
  | TaskEvent
  | TenantEvent
  | VerificationEvent;

/** Every event type Backplane records. A record over the union: a new event type missing here fails to compile, and so does a name of none. */
const EVENT_TYPES: Record<EveryEvent['type'], true> = {
  AuditDestinationAdded: true,
  AuditDestinationRemoved: true,
  CredentialAdded: true,
  CredentialVerified: true,
  CredentialVerificationFailed: true,
  CredentialExpiring: true,
  CredentialRemoved: true,
  DeviceRegistered: true,
  OrganizationAdded: true,
  OrganizationAuthorizationRequested: true,
  OrganizationAuthorized: true,
  OrganizationDefaultDeviceChanged: true,
  OrganizationRemoved: true,
  OrganizationSettingsUpdated: true,
  OrganizationVerificationFailed: true,
  OrganizationVerified: true,
  PasswordStored: true,
  PasswordChanged: true,
  PasswordDescribed: true,
  PasswordDeleted: true,
  PlanCreated: true,
  PlanAdditionalCredentialsSet: true,
  PlanCredentialToggled: true,
  PlanBackupSettingsUpdated: true,
  PlanDeleted: true,
  PruneStarted: true,
  PruneFinished: true,
  RepositoryListSyncStarted: true,
  RepositoryDiscovered: true,
  RepositoryRenamed: true,
  RepositoryRemovedFromSource: true,
  RepositoryProtected: true,
  RepositoryUnprotected: true,
  LicenseSeatLimitReached: true,
  RepositoryListSynced: true,
  RepositoryListSyncFailed: true,
  RestoreStarted: true,
  RestoreProgressed: true,
  RestoreCompleted: true,
  RestoreFailed: true,
  SnapshotRecorded: true,
  SnapshotVerified: true,
  SnapshotDownloaded: true,
  SnapshotExpired: true,
  StorageAdded: true,
  StorageRemoved: true,
  BackupTaskStarted: true,
  CredentialThrottled: true,
  BackupTaskThrottled: true,
  BackupTaskResumed: true,
  RepositoryBackedUp: true,
  RepositoryBackupFailed: true,
  BackupTaskCompleted: true,
  BackupTaskFailed: true,
  TenantCreated: true,
  ApiTokenCreated: true,
  ApiTokenRevoked: true,
  LicenseSeatsSet: true,
  AuditHistoryExported: true,
  GitLabVerificationFailed: true,
  NotificationChannelAdded: true,
  NotificationChannelRemoved: true,
};

/** The names of every event type, sorted. */
export const EVENT_TYPE_NAMES: readonly string[] = Object.keys(EVENT_TYPES).sort();

export const isEventType = (type: string): boolean => Object.hasOwn(EVENT_TYPES, type);

export const auditDestinationStream = (id: string) => `audit-destination-${id}`;
