import { snapshot, type SnapshotEvent, type SnapshotTaken } from '../../src/domain/snapshot';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(snapshot);

const taken: SnapshotTaken = {
  snapshotId: 's1',
  taskId: 't1',
  planId: 'pl1',
  organizationId: 'o1',
  repositoryId: 'r1',
  fullPath: 'acme/platform/api',
  storageId: 'st1',
  takenAt: '2026-03-01T10:00:00.000Z',
  manifestHash: 'a'.repeat(64),
  bytes: 1000,
  objects: 4,
  newBytes: 600,
  storedBytes: 420,
  wiki: false,
  counts: { refs: 3, branches: 2, tags: 1, labels: 2, milestones: 1, issues: 5, issueNotes: 10, mergeRequests: 1, mergeRequestNotes: 2, releases: 1 },
  credentialsUsed: [{ credentialId: null, login: 'main-bot', requests: 9 }],
};
const recorded: SnapshotEvent = { type: 'SnapshotRecorded', data: taken };
const verification = { verifiedAt: '2026-03-02T10:00:00.000Z', ok: true, checkedObjects: 4, firstBrokenObject: null };

describe('a snapshot', () => {
  it('is recorded once, with the hash of its manifest', () => {
    spec.given([]).when({ type: 'RecordSnapshot', data: taken }).then([recorded]);
    spec
      .given([recorded])
      .when({ type: 'RecordSnapshot', data: taken })
      .thenRefuses('CONFLICT', /already recorded/);
  });

  it('refuses a manifest hash that is not a SHA-256, and sizes that do not add up', () => {
    spec
      .given([])
      .when({ type: 'RecordSnapshot', data: { ...taken, manifestHash: 'A'.repeat(64) } })
      .thenRefuses('INVALID_INPUT', /manifestHash/);
    spec
      .given([])
      .when({ type: 'RecordSnapshot', data: { ...taken, newBytes: 1001 } })
      .thenRefuses('INVALID_INPUT', /newBytes/);
    spec
      .given([])
      .when({ type: 'RecordSnapshot', data: { ...taken, objects: 0 } })
      .thenRefuses('INVALID_INPUT', /manifest/);
    spec
      .given([])
      .when({ type: 'RecordSnapshot', data: { ...taken, storedBytes: -1 } })
      .thenRefuses('INVALID_INPUT', /storedBytes/);
    spec
      .given([])
      .when({ type: 'RecordSnapshot', data: { ...taken, bytes: 1.5 } })
      .thenRefuses('INVALID_INPUT', /bytes/);
  });

  it('records a verification, sound or naming the first broken object', () => {
    spec
      .given([recorded])
      .when({ type: 'RecordSnapshotVerification', data: verification })
      .then([{ type: 'SnapshotVerified', data: { snapshotId: 's1', repositoryId: 'r1', ...verification } }]);
    const broken = { ...verification, ok: false, checkedObjects: 2, firstBrokenObject: 'b'.repeat(64) };
    spec
      .given([recorded])
      .when({ type: 'RecordSnapshotVerification', data: broken })
      .then([{ type: 'SnapshotVerified', data: { snapshotId: 's1', repositoryId: 'r1', ...broken } }]);
  });

  it('refuses a verification that does not add up, or of a snapshot never recorded', () => {
    spec.given([]).when({ type: 'RecordSnapshotVerification', data: verification }).thenRefuses('NOT_FOUND');
    spec
      .given([recorded])
      .when({ type: 'RecordSnapshotVerification', data: { ...verification, firstBrokenObject: 'b'.repeat(64) } })
      .thenRefuses('INVALID_INPUT', /broken object/);
    spec
      .given([recorded])
      .when({ type: 'RecordSnapshotVerification', data: { ...verification, checkedObjects: 3 } })
      .thenRefuses('INVALID_INPUT', /all its 4 objects/);
    spec
      .given([recorded])
      .when({ type: 'RecordSnapshotVerification', data: { ...verification, ok: false, checkedObjects: 5, firstBrokenObject: 'b'.repeat(64) } })
      .thenRefuses('INVALID_INPUT', /between 0/);
  });

  it('records who took it away as an archive, once it exists', () => {
    const at = '2026-03-03T10:00:00.000Z';
    spec
      .given([recorded])
      .when({ type: 'RecordSnapshotDownload', data: { at } })
      .then([{ type: 'SnapshotDownloaded', data: { snapshotId: 's1', repositoryId: 'r1', at } }]);
    spec.given([]).when({ type: 'RecordSnapshotDownload', data: { at } }).thenRefuses('NOT_FOUND');
  });

  it("expires once under its plan's retention, and is then neither verified nor taken away", () => {
    const expiry = { expiredAt: '2026-03-04T10:00:00.000Z', rule: 'kept by none of: last 2' };
    const expired: SnapshotEvent = { type: 'SnapshotExpired', data: { snapshotId: 's1', repositoryId: 'r1', planId: 'pl1', ...expiry } };
    spec.given([recorded]).when({ type: 'RecordSnapshotExpiry', data: expiry }).then([expired]);
    spec.given([recorded, expired]).when({ type: 'RecordSnapshotExpiry', data: expiry }).then([]);
    spec.given([]).when({ type: 'RecordSnapshotExpiry', data: expiry }).thenRefuses('NOT_FOUND');
    spec
      .given([recorded, expired])
      .when({ type: 'RecordSnapshotVerification', data: verification })
      .thenRefuses('CONFLICT', /expired/);
    spec
      .given([recorded, expired])
      .when({ type: 'RecordSnapshotDownload', data: { at: '2026-03-05T10:00:00.000Z' } })
      .thenRefuses('CONFLICT', /expired/);
  });
});
