import { filterFromQuery, filterInput, instantOfLocal, localInputValue, queryOfFilter, splitTypes } from '../../src/console/audit-filter';

describe("the event log's filters in the address", () => {
  it('reads back every filter it writes, in one order whatever order they were given in', () => {
    const filter = {
      from: '2026-01-31T00:00:00.000Z',
      to: '2026-02-01T12:30:00.000Z',
      types: ['PlanCreated', 'PlanCredentialToggled'],
      organizationId: 'org-1',
      planId: 'plan-1',
      credentialId: 'cred-1',
      actorId: 'actor-1',
    };
    const query = queryOfFilter(filter);
    expect(filterFromQuery(query)).toEqual(filter);
    expect(query).toBe(
      'from=2026-01-31T00%3A00%3A00.000Z&to=2026-02-01T12%3A30%3A00.000Z&types=PlanCreated%2CPlanCredentialToggled&organizationId=org-1&planId=plan-1&credentialId=cred-1&actorId=actor-1',
    );
    expect(queryOfFilter(filterFromQuery('planId=plan-1&types=PlanCreated'))).toBe('types=PlanCreated&planId=plan-1');
  });

  it('leaves out what it does not know, blanks, repeats and times that are no instant', () => {
    expect(filterFromQuery('token=secret&planId=&from=yesterday&types=A,%20,A&types=B')).toEqual({ types: ['A', 'B'] });
    expect(filterFromQuery('')).toEqual({});
    expect(filterInput({})).toBeNull();
    expect(filterInput({ planId: 'p' })).toEqual({ planId: 'p' });
    expect(queryOfFilter({ types: [], planId: undefined })).toBe('');
  });

  it('splits a typed list of event types', () => {
    expect(splitTypes(' PlanCreated, PlanDeleted ,,PlanCreated')).toEqual(['PlanCreated', 'PlanDeleted']);
    expect(splitTypes('')).toEqual([]);
  });

  it("turns the browser's local time into an instant and back", () => {
    const iso = '2026-03-04T05:06:07.000Z';
    expect(instantOfLocal(localInputValue(iso))).toBe(iso);
    expect(localInputValue(undefined)).toBe('');
    expect(instantOfLocal('')).toBeUndefined();
    expect(instantOfLocal('not a time')).toBeUndefined();
  });
});
