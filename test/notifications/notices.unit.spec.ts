import { NOTICE_EVENT_TYPES, noticeOf } from '../../src/app/notifications/notices';
import { NOTIFICATION_KINDS } from '../../src/domain/notification-channel';
import type { JsonValue, RecordedEvent } from '../../src/eventstore/types';

const settings = { throttledLongerThanMs: 30 * 60_000 };
const recordedAt = new Date('2026-03-01T10:00:00.000Z');
const event = (type: string, data: JsonValue): RecordedEvent => ({
  id: '00000000-0000-4000-8000-000000000001',
  type,
  data,
  metadata: { tenantId: 't1' },
  stream: 's-1',
  revision: 0n,
  position: '1',
  recordedAt,
  hash: '0'.repeat(64),
});
const ref = { taskId: 'task-1', planId: 'plan-1', organizationId: 'org-1' };
const summary = { repositoriesDone: 3, durationMs: 10, credentialsUsed: [], throttledPeriods: [], finishedAt: '2026-03-01T10:00:00.000Z' };

describe('what needs a person, read from an event', () => {
  it('a failed task, with its reason', () => {
    const notice = noticeOf(event('BackupTaskFailed', { ...ref, ...summary, repositoriesFailed: 0, reason: 'GitLab is down' }), settings);
    expect(notice).toMatchObject({ kind: 'TASK_FAILED', fields: { taskId: 'task-1', planId: 'plan-1', reason: 'GitLab is down' } });
    expect(notice?.text).toBe('Backup task task-1 of plan plan-1 failed: GitLab is down');
  });

  it('a task finished with failed repositories, and not one finished clean', () => {
    expect(noticeOf(event('BackupTaskCompleted', { ...ref, ...summary, repositoriesFailed: 2 }), settings)).toMatchObject({
      kind: 'TASK_WARNINGS',
      fields: { repositoriesFailed: 2 },
    });
    expect(noticeOf(event('BackupTaskCompleted', { ...ref, ...summary, repositoriesFailed: 0 }), settings)).toBeNull();
  });

  it('a task throttled for the threshold or longer, and not a shorter wait', () => {
    const throttled = (minutes: number) =>
      event('BackupTaskThrottled', {
        ...ref,
        from: '2026-03-01T10:00:00.000Z',
        until: new Date(Date.parse('2026-03-01T10:00:00.000Z') + minutes * 60_000).toISOString(),
      });
    expect(noticeOf(throttled(30), settings)).toMatchObject({ kind: 'TASK_THROTTLED' });
    expect(noticeOf(throttled(29), settings)).toBeNull();
    expect(noticeOf(throttled(5), { throttledLongerThanMs: 5 * 60_000 })).toMatchObject({ kind: 'TASK_THROTTLED' });
  });

  it('a credential revoked, expired, or refused for another reason', () => {
    const failed = (failure: string) =>
      event('CredentialVerificationFailed', { credentialId: 'c1', organizationId: 'org-1', failure, reason: 'GitLab says so' });
    expect(noticeOf(failed('REVOKED'), settings)?.kind).toBe('CREDENTIAL_REVOKED');
    expect(noticeOf(failed('INVALID_TOKEN'), settings)?.kind).toBe('CREDENTIAL_REVOKED');
    expect(noticeOf(failed('EXPIRED'), settings)?.kind).toBe('CREDENTIAL_EXPIRING');
    expect(noticeOf(failed('INSUFFICIENT_SCOPE'), settings)?.kind).toBe('VERIFICATION_FAILED');
  });

  it('a credential whose token entered its last days, from CredentialExpiring alone: a verification that sees the date tells nothing more', () => {
    const expiring = event('CredentialExpiring', { credentialId: 'c1', organizationId: 'org-1', expiresAt: '2026-03-10' });
    expect(noticeOf(expiring, settings)).toEqual({
      kind: 'CREDENTIAL_EXPIRING',
      text: 'The token of credential c1 expires on 2026-03-10: make a new one',
      fields: { credentialId: 'c1', organizationId: 'org-1', expiresAt: '2026-03-10' },
    });
    const verified = event('CredentialVerified', { credentialId: 'c1', organizationId: 'org-1', scopes: ['api'], expiresAt: '2026-03-10', gitlabUserId: 7 });
    expect(noticeOf(verified, settings)).toBeNull();
    const added = event('CredentialAdded', {
      credentialId: 'c2',
      organizationId: 'org-1',
      login: 'bot',
      passwordId: 'p1',
      access: { scopes: ['api'], expiresAt: '2026-03-02', gitlabUserId: 8 },
    });
    expect(noticeOf(added, settings)).toBeNull();
  });

  it("an organization's main token refused, a failed verification, a failed sync, and a damaged snapshot", () => {
    expect(noticeOf(event('OrganizationVerificationFailed', { organizationId: 'org-1', failure: 'REVOKED', reason: 'r' }), settings)?.kind).toBe(
      'CREDENTIAL_REVOKED',
    );
    expect(
      noticeOf(
        event('GitLabVerificationFailed', {
          attemptId: 'a1',
          subject: 'CREDENTIAL',
          organizationId: 'org-1',
          gitlabUrl: 'https://gitlab.example.test',
          group: null,
          login: 'bot',
          failure: 'INVALID_TOKEN',
          reason: 'r',
        }),
        settings,
      ),
    ).toMatchObject({ kind: 'VERIFICATION_FAILED', fields: { login: 'bot', gitlabUrl: 'https://gitlab.example.test' } });
    expect(noticeOf(event('RepositoryListSyncFailed', { organizationId: 'org-1', syncId: 's1', reason: 'timeout' }), settings)?.kind).toBe('SYNC_FAILED');
    const verifiedSnapshot = (ok: boolean) =>
      event('SnapshotVerified', {
        snapshotId: 'sn1',
        repositoryId: 'r1',
        verifiedAt: '2026-03-01',
        ok,
        checkedObjects: 4,
        firstBrokenObject: ok ? null : 'ab'.repeat(32),
      });
    expect(noticeOf(verifiedSnapshot(false), settings)).toMatchObject({
      kind: 'SNAPSHOT_VERIFICATION_FAILED',
      fields: { snapshotId: 'sn1', checkedObjects: 4 },
    });
    expect(noticeOf(verifiedSnapshot(true), settings)).toBeNull();
  });

  it('nothing for an event no one needs to act on', () => {
    expect(noticeOf(event('PlanCreated', { planId: 'p' }), settings)).toBeNull();
    expect(noticeOf(event('BackupTaskStarted', { ...ref, repositoriesTotal: 1, startedAt: '2026-03-01' }), settings)).toBeNull();
  });

  it('has an event for every kind, each of a type the store is asked for', () => {
    const samples = [
      event('BackupTaskFailed', { ...ref, ...summary, repositoriesFailed: 0, reason: 'r' }),
      event('BackupTaskCompleted', { ...ref, ...summary, repositoriesFailed: 1 }),
      event('BackupTaskThrottled', { ...ref, from: '2026-03-01T10:00:00.000Z', until: '2026-03-01T11:00:00.000Z' }),
      event('CredentialExpiring', { credentialId: 'c1', organizationId: 'o', expiresAt: '2026-03-02' }),
      event('CredentialVerificationFailed', { credentialId: 'c1', organizationId: 'o', failure: 'REVOKED', reason: 'r' }),
      event('GitLabVerificationFailed', {
        attemptId: 'a',
        subject: 'ORGANIZATION',
        organizationId: null,
        gitlabUrl: 'u',
        group: 'g',
        login: 'l',
        failure: 'f',
        reason: 'r',
      }),
      event('RepositoryListSyncFailed', { organizationId: 'o', syncId: 's', reason: 'r' }),
      event('SnapshotVerified', { snapshotId: 's', repositoryId: 'r', verifiedAt: 'v', ok: false, checkedObjects: 1, firstBrokenObject: 'x' }),
    ];
    expect(samples.map((sample) => noticeOf(sample, settings)?.kind).sort()).toEqual([...NOTIFICATION_KINDS].sort());
    for (const sample of samples) expect(NOTICE_EVENT_TYPES).toContain(sample.type);
  });
});
