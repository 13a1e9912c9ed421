import { ExportParamError, parseExportParams } from '../../src/audit-export/export-params';

const refused = (params: Record<string, unknown>): string => {
  try {
    parseExportParams(params);
  } catch (error) {
    if (error instanceof ExportParamError) return error.param;
    throw error;
  }
  throw new Error('accepted');
};

describe('the export parameters', () => {
  it('takes auditLog’s filters', () => {
    expect(
      parseExportParams({ format: 'csv', from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00.5+01:00', types: ['A,B', 'C'], planId: 'p', actorId: 'a' }),
    ).toEqual({
      format: 'csv',
      query: { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-01-31T23:00:00.500Z'), types: ['A', 'B', 'C'], planId: 'p', actorId: 'a' },
    });
    expect(parseExportParams({})).toEqual({ format: 'jsonl', query: {} });
  });

  it('takes digest periods by sequence number, alone or together', () => {
    expect(parseExportParams({ format: 'bundle', fromDigest: '2', toDigest: '12' })).toEqual({
      format: 'bundle',
      query: {},
      digests: { fromDigest: 2, toDigest: 12 },
    });
    expect(parseExportParams({ toDigest: '3' }).digests).toEqual({ toDigest: 3 });
    expect(parseExportParams({ fromDigest: '5', toDigest: '5' }).digests).toEqual({ fromDigest: 5, toDigest: 5 });
  });

  it.each([
    [{ from: '2026-02-30T00:00:00Z' }, 'from'],
    [{ from: '2026-02-29T00:00:00Z' }, 'from'],
    [{ from: '2026-01-01' }, 'from'],
    [{ to: '0000-12-31T00:00:00Z' }, 'to'],
    [{ to: '2026-01-01T25:00:00Z' }, 'to'],
    [{ from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'to'],
    [{ format: ['csv', 'jsonl'] }, 'format'],
    [{ types: '' }, 'types'],
    [{ organizationId: '' }, 'organizationId'],
    [{ credentialId: 'x'.repeat(201) }, 'credentialId'],
    [{ actorId: 'a\u0007' }, 'actorId'],
    [{ after: 'x' }, 'after'],
    [{ fromDigest: 'first' }, 'fromDigest'],
    [{ fromDigest: '0' }, 'fromDigest'],
    [{ fromDigest: '-1' }, 'fromDigest'],
    [{ toDigest: '01' }, 'toDigest'],
    [{ toDigest: '1e3' }, 'toDigest'],
    [{ toDigest: '1234567890' }, 'toDigest'],
    [{ fromDigest: ['1', '2'] }, 'fromDigest'],
    [{ fromDigest: '4', toDigest: '3' }, 'toDigest'],
    [{ fromDigest: '1', types: 'PlanCreated' }, 'types'],
    [{ toDigest: '1', actorId: 'a' }, 'actorId'],
    [{ fromDigest: '1', from: '2026-01-01T00:00:00Z' }, 'from'],
    [{ fromDigest: '1', to: '2026-01-01T00:00:00Z' }, 'to'],
  ])('refuses %j naming %s', (params, name) => {
    expect(refused(params)).toBe(name);
  });
});
