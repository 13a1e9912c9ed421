import type { NotificationKind } from '../../domain/notification-channel';
import type { RecordedEvent } from '../../eventstore/types';

/** What a person is told of one event: a line to read, and the facts a machine can route on. */
export interface Notice {
  kind: NotificationKind;
  /** One sentence: what happened, to what. */
  text: string;
  /** Ids and figures the event names (never a secret: events hold none). */
  fields: Record<string, string | number>;
}

export interface NoticeSettings {
  /** A task made to wait this long or longer by GitLab's rate limits needs a person (ms). */
  throttledLongerThanMs: number;
}

type Data = Record<string, unknown>;
const str = (value: unknown): string => (typeof value === 'string' ? value : '');
const num = (value: unknown): number => (typeof value === 'number' ? value : 0);
/** Only the string and number facts of an event's data, by name: ids, reasons, figures. */
const pick = (data: Data, names: string[]): Record<string, string | number> =>
  Object.fromEntries(
    names.filter((name) => typeof data[name] === 'string' || typeof data[name] === 'number').map((name) => [name, data[name] as string | number]),
  );

/** The event types noticeOf reads: a channel's subscription asks the store for these only. */
export const NOTICE_EVENT_TYPES = [
  'BackupTaskFailed',
  'BackupTaskCompleted',
  'BackupTaskThrottled',
  'CredentialVerificationFailed',
  'CredentialExpiring',
  'OrganizationVerificationFailed',
  'GitLabVerificationFailed',
  'RepositoryListSyncFailed',
  'SnapshotVerified',
] as const;

/** GitLab's answers that mean the token no longer works at all: someone must make a new one. */
const REVOKED = new Set(['INVALID_TOKEN', 'REVOKED']);

/**
 * Whether an event needs a person, and what to tell them: read from the log alone, as recorded,
 * so every process reaches the same answer for the same event. A token in its last days is told
 * from CredentialExpiring, which is recorded once per credential and expiry day (not from each
 * verification that sees the date).
 */
export function noticeOf(event: RecordedEvent, settings: NoticeSettings): Notice | null {
  const data = (event.data ?? {}) as Data;
  switch (event.type) {
    case 'BackupTaskFailed':
      return {
        kind: 'TASK_FAILED',
        text: `Backup task ${str(data.taskId)} of plan ${str(data.planId)} failed: ${str(data.reason)}`,
        fields: pick(data, ['taskId', 'planId', 'organizationId', 'reason', 'repositoriesDone', 'repositoriesFailed']),
      };
    case 'BackupTaskCompleted':
      if (num(data.repositoriesFailed) === 0) return null;
      return {
        kind: 'TASK_WARNINGS',
        text: `Backup task ${str(data.taskId)} of plan ${str(data.planId)} finished with ${num(data.repositoriesFailed)} repositories failed`,
        fields: pick(data, ['taskId', 'planId', 'organizationId', 'repositoriesDone', 'repositoriesFailed']),
      };
    case 'BackupTaskThrottled': {
      const waitMs = Date.parse(str(data.until)) - Date.parse(str(data.from));
      if (!(waitMs >= settings.throttledLongerThanMs)) return null;
      return {
        kind: 'TASK_THROTTLED',
        text: `Backup task ${str(data.taskId)} of plan ${str(data.planId)} is held by GitLab's rate limits for ${Math.round(waitMs / 60_000)} minutes, until ${str(data.until)}`,
        fields: pick(data, ['taskId', 'planId', 'organizationId', 'from', 'until']),
      };
    }
    case 'CredentialVerificationFailed': {
      const failure = str(data.failure);
      const kind: NotificationKind = REVOKED.has(failure) ? 'CREDENTIAL_REVOKED' : failure === 'EXPIRED' ? 'CREDENTIAL_EXPIRING' : 'VERIFICATION_FAILED';
      return {
        kind,
        text: `GitLab refused the token of credential ${str(data.credentialId)} (${failure}): ${str(data.reason)}`,
        fields: pick(data, ['credentialId', 'organizationId', 'failure', 'reason']),
      };
    }
    case 'CredentialExpiring':
      return {
        kind: 'CREDENTIAL_EXPIRING',
        text: `The token of credential ${str(data.credentialId)} expires on ${str(data.expiresAt)}: make a new one`,
        fields: pick(data, ['credentialId', 'organizationId', 'expiresAt']),
      };
    case 'OrganizationVerificationFailed':
      return {
        kind: REVOKED.has(str(data.failure)) ? 'CREDENTIAL_REVOKED' : 'VERIFICATION_FAILED',
        text: `GitLab refused the main login's token of organization ${str(data.organizationId)} (${str(data.failure)}): ${str(data.reason)}`,
        fields: pick(data, ['organizationId', 'failure', 'reason']),
      };
    case 'GitLabVerificationFailed':
      return {
        kind: 'VERIFICATION_FAILED',
        text: `GitLab refused a token for ${str(data.login)} on ${str(data.gitlabUrl)} (${str(data.failure)}): ${str(data.reason)}`,
        fields: pick(data, ['subject', 'organizationId', 'gitlabUrl', 'group', 'login', 'failure', 'reason']),
      };
    case 'RepositoryListSyncFailed':
      return {
        kind: 'SYNC_FAILED',
        text: `The repository list of organization ${str(data.organizationId)} did not sync: ${str(data.reason)}`,
        fields: pick(data, ['organizationId', 'syncId', 'reason']),
      };
    case 'SnapshotVerified':
      if (data.ok !== false) return null;
      return {
        kind: 'SNAPSHOT_VERIFICATION_FAILED',
        text: `Snapshot ${str(data.snapshotId)} failed verification: object ${str(data.firstBrokenObject)} is missing or altered`,
        fields: pick(data, ['snapshotId', 'repositoryId', 'checkedObjects', 'firstBrokenObject']),
      };
    default:
      return null;
  }
}
