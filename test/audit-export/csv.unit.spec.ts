import { csvField, csvRow, summary } from '../../src/audit-export/csv';

describe('the CSV export', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\r\nlines', '"two\r\nlines"'],
    ['=1+2', "'=1+2"],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\t=1', "'\t=1"],
    ['=HYPERLINK("x")', `"'=HYPERLINK(""x"")"`],
  ])('writes %j as %j', (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });

  it('summarises what changed without the ids that have columns of their own', () => {
    expect(summary({ planId: 'p', credentialId: 'c', enabled: true, name: 'x', nested: { a: 1 } })).toBe('enabled: true; name: x; nested: {"a":1}');
  });

  it('ends each record with CRLF and leaves empty cells for what an event does not name', () => {
    const row = csvRow({
      occurredAt: '2026-01-01T00:00:00.000Z',
      actorName: null,
      actorId: 'backplane',
      actorRole: null,
      type: 'RepositoryDiscovered',
      organizationId: 'o',
      planId: null,
      credentialId: null,
      data: { path: 'g/p' },
      correlationId: null,
      hash: 'h',
    });
    expect(row).toBe('2026-01-01T00:00:00.000Z,backplane,,RepositoryDiscovered,o,,,path: g/p,,h\r\n');
  });
});
