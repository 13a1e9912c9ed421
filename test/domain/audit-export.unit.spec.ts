import { auditExport, type AuditExportTaken } from '../../src/domain/audit-export';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(auditExport);

const taken: AuditExportTaken = {
  exportId: 'x1',
  format: 'bundle',
  filters: {
    from: '2026-01-01T00:00:00.000Z',
    to: null,
    types: ['PlanCredentialToggled'],
    organizationId: null,
    planId: 'p1',
    credentialId: null,
    actorId: null,
  },
  at: '2026-02-01T10:00:00.000Z',
};

describe('an audit export', () => {
  it('records who took the history away, in which format and with which filters', () => {
    spec
      .given([])
      .when({ type: 'RecordAuditExport', data: taken })
      .then([{ type: 'AuditHistoryExported', data: taken }]);
  });

  it('is recorded once', () => {
    spec
      .given([{ type: 'AuditHistoryExported', data: taken }])
      .when({ type: 'RecordAuditExport', data: taken })
      .thenRefuses('CONFLICT', /already recorded/);
  });
});
