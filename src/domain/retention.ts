// Retention: which of a repository's snapshots a plan keeps, with restic's `forget --keep-*`
// meaning. Snapshots are taken newest first; keepLast keeps the N newest; keepDaily keeps the
// newest snapshot of each of the N latest days that have one (UTC), keepWeekly of ISO weeks,
// keepMonthly of months. A snapshot any rule keeps is kept; the others expire.
import type { RetentionPolicy } from './plan';

export interface Dated {
  id: string;
  takenAt: Date;
}

export interface RetentionOutcome {
  /** Kept, each with the rules that keep it (such as "last 3", "daily 7"). */
  kept: { id: string; rules: string[] }[];
  /** Expired: no rule keeps them. */
  expired: string[];
}

type Bucket = (at: Date) => string;

const day: Bucket = (at) => at.toISOString().slice(0, 10);
const month: Bucket = (at) => at.toISOString().slice(0, 7);

/** The ISO 8601 week (weeks start on Monday; week 1 holds the year's first Thursday) as YYYY-Www. */
export const isoWeek: Bucket = (at) => {
  const date = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
  const weekday = date.getUTCDay() || 7;
  // The Thursday of the same week decides the week's year.
  date.setUTCDate(date.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(date.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((date.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${date.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
};

/** Whether the policy keeps everything: no rule set. */
export function keepsAll(policy: RetentionPolicy): boolean {
  return policy.keepLast === null && policy.keepDaily === null && policy.keepWeekly === null && policy.keepMonthly === null;
}

/** One repository's snapshots under the policy: which are kept and why, which expire. */
export function applyRetention(snapshots: readonly Dated[], policy: RetentionPolicy): RetentionOutcome {
  // Newest first; the same instant is ordered by id so that the outcome never depends on input order.
  const ordered = [...snapshots].sort((a, b) => b.takenAt.getTime() - a.takenAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  if (keepsAll(policy)) return { kept: ordered.map((s) => ({ id: s.id, rules: ['unlimited'] })), expired: [] };
  const rules: { name: string; left: number; bucket: Bucket | null; last: string | null }[] = [];
  if (policy.keepLast !== null) rules.push({ name: 'last', left: policy.keepLast, bucket: null, last: null });
  if (policy.keepDaily !== null) rules.push({ name: 'daily', left: policy.keepDaily, bucket: day, last: null });
  if (policy.keepWeekly !== null) rules.push({ name: 'weekly', left: policy.keepWeekly, bucket: isoWeek, last: null });
  if (policy.keepMonthly !== null) rules.push({ name: 'monthly', left: policy.keepMonthly, bucket: month, last: null });
  const totals = new Map(rules.map((rule) => [rule.name, rule.left]));
  const outcome: RetentionOutcome = { kept: [], expired: [] };
  for (const snapshot of ordered) {
    const keptBy: string[] = [];
    for (const rule of rules) {
      if (rule.left === 0) continue;
      // keepLast takes every snapshot; a period rule the first (newest) of each period it meets.
      const value = rule.bucket === null ? snapshot.id : rule.bucket(snapshot.takenAt);
      if (value === rule.last) continue;
      rule.last = value;
      rule.left -= 1;
      keptBy.push(`${rule.name} ${totals.get(rule.name)}`);
    }
    if (keptBy.length > 0) outcome.kept.push({ id: snapshot.id, rules: keptBy });
    else outcome.expired.push(snapshot.id);
  }
  return outcome;
}

/** The policy in a few words, for the record of what expired a snapshot. */
export function describePolicy(policy: RetentionPolicy): string {
  const parts = [
    policy.keepLast !== null ? `last ${policy.keepLast}` : null,
    policy.keepDaily !== null ? `daily ${policy.keepDaily}` : null,
    policy.keepWeekly !== null ? `weekly ${policy.keepWeekly}` : null,
    policy.keepMonthly !== null ? `monthly ${policy.keepMonthly}` : null,
  ].filter((part) => part !== null);
  return `kept by none of: ${parts.join(', ')}`;
}
