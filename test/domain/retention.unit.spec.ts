import { applyRetention, describePolicy, isoWeek, keepsAll } from '../../src/domain/retention';
import type { RetentionPolicy } from '../../src/domain/plan';

const none: RetentionPolicy = { keepLast: null, keepDaily: null, keepWeekly: null, keepMonthly: null };
const at = (iso: string) => new Date(iso);
/** Snapshots named by their time, for readable expectations. */
const snapshots = (...times: string[]) => times.map((time) => ({ id: time, takenAt: at(time) }));
const keptIds = (outcome: ReturnType<typeof applyRetention>) => outcome.kept.map((kept) => kept.id);

describe('retention', () => {
  it('keeps everything when no rule is set', () => {
    const all = snapshots('2026-03-01T10:00:00Z', '2026-03-02T10:00:00Z');
    expect(keepsAll(none)).toBe(true);
    expect(applyRetention(all, none)).toEqual({
      kept: [
        { id: all[1].id, rules: ['unlimited'] },
        { id: all[0].id, rules: ['unlimited'] },
      ],
      expired: [],
    });
  });

  it('keepLast 3 of 10 keeps the three newest, whatever order they come in', () => {
    const all = Array.from({ length: 10 }, (_, i) => ({ id: `s${i}`, takenAt: new Date(Date.UTC(2026, 2, 1, i)) }));
    const shuffled = [all[4], all[9], all[0], all[7], all[2], all[8], all[1], all[3], all[6], all[5]];
    const outcome = applyRetention(shuffled, { ...none, keepLast: 3 });
    expect(keptIds(outcome)).toEqual(['s9', 's8', 's7']);
    expect(outcome.kept[0].rules).toEqual(['last 3']);
    expect(outcome.expired).toEqual(['s6', 's5', 's4', 's3', 's2', 's1', 's0']);
  });

  it('keepDaily 7 over 30 days with several snapshots a day keeps the newest of each of the 7 latest days', () => {
    const all = [];
    for (let day = 1; day <= 30; day++) {
      for (const hour of [1, 9, 17]) all.push({ id: `d${day}h${hour}`, takenAt: new Date(Date.UTC(2026, 3, day, hour)) });
    }
    const outcome = applyRetention(all, { ...none, keepDaily: 7 });
    expect(keptIds(outcome)).toEqual(['d30h17', 'd29h17', 'd28h17', 'd27h17', 'd26h17', 'd25h17', 'd24h17']);
    expect(outcome.expired).toHaveLength(90 - 7);
  });

  it('counts only the days that have snapshots, in UTC', () => {
    // A gap of days is skipped, not counted; 23:30 UTC belongs to its own day whatever the local zone.
    const outcome = applyRetention(snapshots('2026-03-10T23:30:00Z', '2026-03-10T08:00:00Z', '2026-03-01T12:00:00Z', '2026-02-20T12:00:00Z'), {
      ...none,
      keepDaily: 2,
    });
    expect(keptIds(outcome)).toEqual(['2026-03-10T23:30:00Z', '2026-03-01T12:00:00Z']);
  });

  it('keepWeekly goes by ISO weeks: Monday starts a week, and the first days of January may belong to the year before', () => {
    expect(isoWeek(at('2026-01-01T12:00:00Z'))).toBe('2026-W01');
    expect(isoWeek(at('2027-01-01T12:00:00Z'))).toBe('2026-W53');
    expect(isoWeek(at('2024-12-30T00:00:00Z'))).toBe('2025-W01');
    expect(isoWeek(at('2026-03-08T23:59:59Z'))).toBe('2026-W10');
    expect(isoWeek(at('2026-03-09T00:00:00Z'))).toBe('2026-W11');
    // Sunday 8 March and Monday 9 March are two weeks; Friday 6 March is the same week as the Sunday.
    const outcome = applyRetention(snapshots('2026-03-09T00:00:00Z', '2026-03-08T23:59:59Z', '2026-03-06T10:00:00Z', '2026-02-26T10:00:00Z'), {
      ...none,
      keepWeekly: 2,
    });
    expect(keptIds(outcome)).toEqual(['2026-03-09T00:00:00Z', '2026-03-08T23:59:59Z']);
    expect(outcome.expired).toEqual(['2026-03-06T10:00:00Z', '2026-02-26T10:00:00Z']);
  });

  it('keepMonthly keeps the newest of each month, at month boundaries in UTC', () => {
    const outcome = applyRetention(
      snapshots('2026-04-01T00:00:00Z', '2026-03-31T23:59:59Z', '2026-03-15T00:00:00Z', '2026-02-28T12:00:00Z', '2026-01-31T12:00:00Z'),
      { ...none, keepMonthly: 3 },
    );
    expect(keptIds(outcome)).toEqual(['2026-04-01T00:00:00Z', '2026-03-31T23:59:59Z', '2026-02-28T12:00:00Z']);
    expect(outcome.expired).toEqual(['2026-03-15T00:00:00Z', '2026-01-31T12:00:00Z']);
  });

  it('keeps a snapshot any rule keeps, and names every rule that does', () => {
    // Daily snapshots at noon for 90 days, from 1 January 2026.
    const all = Array.from({ length: 90 }, (_, i) => ({ id: `day${i + 1}`, takenAt: new Date(Date.UTC(2026, 0, 1 + i, 12)) }));
    const outcome = applyRetention(all, { keepLast: 2, keepDaily: 3, keepWeekly: 2, keepMonthly: 3 });
    // day90 = 31 March (Tuesday). Daily: 31, 30, 29 March. Weekly: 31 March (W14), 29 March (Sunday, W13).
    // Monthly: 31 March, 28 February, 31 January.
    expect(keptIds(outcome)).toEqual(['day90', 'day89', 'day88', 'day59', 'day31']);
    expect(outcome.kept[0].rules).toEqual(['last 2', 'daily 3', 'weekly 2', 'monthly 3']);
    expect(outcome.kept.find((kept) => kept.id === 'day88')!.rules).toEqual(['daily 3', 'weekly 2']);
    expect(outcome.kept.find((kept) => kept.id === 'day59')!.rules).toEqual(['monthly 3']);
    expect(outcome.expired).toHaveLength(85);
  });

  it('keeps all there are when a rule asks for more than exist', () => {
    const all = snapshots('2026-03-01T10:00:00Z', '2026-03-02T10:00:00Z');
    expect(applyRetention(all, { ...none, keepLast: 5 }).expired).toEqual([]);
    expect(applyRetention([], { ...none, keepLast: 5 })).toEqual({ kept: [], expired: [] });
  });

  it('describes the policy that expired a snapshot', () => {
    expect(describePolicy({ keepLast: 2, keepDaily: null, keepWeekly: 4, keepMonthly: null })).toBe('kept by none of: last 2, weekly 4');
  });
});
