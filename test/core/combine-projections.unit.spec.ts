import { combineProjections, type Projection } from '../../src/core/projection';
import type { RecordedEvent } from '../../src/eventstore/types';

const part = (name: string, version: number, filter: Projection['filter']): Projection => ({
  name,
  version,
  tables: [`${name}_rows`],
  schema: [`CREATE TABLE ${name}_rows (id text)`],
  filter,
  apply: (event) => [{ sql: `INSERT INTO ${name}_rows VALUES ($1)`, params: [event.id] }],
});

const event = (stream: string, type = 'Happened'): RecordedEvent => ({
  id: `${stream}:${type}`,
  type,
  data: {},
  metadata: {},
  stream,
  revision: 0n,
  position: '1-1',
  recordedAt: new Date(0),
  hash: '',
});

describe('combineProjections', () => {
  const plans = part('plans', 2, { streamPrefixes: ['plan-'] });
  const orgs = part('orgs', 3, { streamPrefixes: ['organization-'] });

  it('applies each event with the parts whose filter it passes, in the order of the parts', () => {
    const both = combineProjections('both', [plans, part('plan_history', 1, { streamPrefixes: ['plan-'] }), orgs]);
    expect(both.apply(event('plan-1')).map((statement) => statement.sql)).toEqual([
      'INSERT INTO plans_rows VALUES ($1)',
      'INSERT INTO plan_history_rows VALUES ($1)',
    ]);
    expect(both.apply(event('organization-1')).map((statement) => statement.sql)).toEqual(['INSERT INTO orgs_rows VALUES ($1)']);
    expect(both.apply(event('device-1'))).toEqual([]);
  });

  it("owns every part's tables, subscribes to the union of their streams, and changes version with any part", () => {
    const both = combineProjections('both', [plans, orgs]);
    expect(both.tables).toEqual(['plans_rows', 'orgs_rows']);
    expect(both.schema).toHaveLength(2);
    expect(both.filter).toEqual({ streamPrefixes: ['plan-', 'organization-'] });
    const versions = [
      both.version,
      combineProjections('both', [{ ...plans, version: 3 }, orgs]).version,
      // Versions that add up the same: a sum of versions would miss this change.
      combineProjections('both', [
        { ...plans, version: 3 },
        { ...orgs, version: 2 },
      ]).version,
      combineProjections('both', [plans]).version,
      combineProjections('both', [orgs, plans]).version,
    ];
    expect(new Set(versions).size).toBe(versions.length);
    for (const version of versions) expect(Number.isInteger(version) && version >= 0 && version < 2 ** 31).toBe(true);
    expect(combineProjections('both', [plans, orgs]).version).toBe(both.version);
  });

  it('reads every stream when one part has no stream filter, and still filters that part by event type', () => {
    const typed = part('typed', 1, { eventTypes: ['Special'] });
    const both = combineProjections('both', [plans, typed]);
    expect(both.filter).toBeUndefined();
    expect(both.apply(event('device-1', 'Special')).map((statement) => statement.sql)).toEqual(['INSERT INTO typed_rows VALUES ($1)']);
    expect(both.apply(event('device-1', 'Other'))).toEqual([]);
  });
});
