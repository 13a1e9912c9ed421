import type { Actor, HistoryEvent } from './documents';

/** A stretch of time something was switched on: who switched it on and off, and when. */
export interface Interval {
  from: number;
  /** null: still on. */
  to: number | null;
  onBy: Actor;
  offBy: Actor | null;
}

export interface Lane {
  credentialId: string;
  /** Switched on for the plan. */
  enabled: Interval[];
  /** Switched on while the plan's "Additional git credentials" switch was on too: used by its backups. */
  effective: Interval[];
}

export interface Timeline {
  start: number;
  end: number;
  /** The plan's "Additional git credentials" switch. */
  switched: Interval[];
  lanes: Lane[];
}

/**
 * The plan's credential history as intervals, read from its events in log order (PlanCreated,
 * PlanAdditionalCredentialsSet, PlanCredentialToggled, PlanDeleted). Pure, so that what the
 * auditor sees is a function of the log alone.
 */
export function buildTimeline(events: HistoryEvent[], now: number): Timeline {
  let start = Number.POSITIVE_INFINITY;
  let end = now;
  const switched: Interval[] = [];
  const enabled = new Map<string, Interval[]>();
  const open = (list: Interval[]) => list.at(-1)?.to === null;
  const close = (list: Interval[], at: number, by: Actor) => {
    const last = list.at(-1);
    if (last && last.to === null) {
      last.to = at;
      last.offBy = by;
    }
  };
  for (const event of events) {
    const at = Date.parse(event.occurredAt);
    start = Math.min(start, at);
    const data = event.data as { enabled?: boolean; credentialId?: string };
    if (event.type === 'PlanAdditionalCredentialsSet') {
      if (data.enabled && !open(switched)) switched.push({ from: at, to: null, onBy: event.actor, offBy: null });
      else if (!data.enabled) close(switched, at, event.actor);
    } else if (event.type === 'PlanCredentialToggled' && data.credentialId) {
      const list = enabled.get(data.credentialId) ?? [];
      enabled.set(data.credentialId, list);
      if (data.enabled && !open(list)) list.push({ from: at, to: null, onBy: event.actor, offBy: null });
      else if (!data.enabled) close(list, at, event.actor);
    } else if (event.type === 'PlanDeleted') {
      close(switched, at, event.actor);
      for (const list of enabled.values()) close(list, at, event.actor);
      end = at;
    }
  }
  if (!Number.isFinite(start)) start = now;
  const lanes = [...enabled.entries()].map(([credentialId, list]) => ({ credentialId, enabled: list, effective: intersect(list, switched) }));
  return { start, end: Math.max(end, start + 1), switched, lanes };
}

/** Where both were on; each piece keeps the actor of whichever switch turned it on last and off first. */
function intersect(a: Interval[], b: Interval[]): Interval[] {
  const result: Interval[] = [];
  for (const x of a) {
    for (const y of b) {
      const from = Math.max(x.from, y.from);
      const to = x.to === null ? y.to : y.to === null ? x.to : Math.min(x.to, y.to);
      if (to !== null && to <= from) continue;
      const onBy = x.from >= y.from ? x.onBy : y.onBy;
      const offBy = to === null ? null : to === x.to ? x.offBy : y.offBy;
      result.push({ from, to, onBy, offBy });
    }
  }
  return result;
}

/** A position along the timeline, in percent, for the CSSOM (no inline style attribute: the CSP allows none). */
export function place(timeline: Timeline, interval: Interval): { left: string; width: string } {
  const span = timeline.end - timeline.start;
  const from = Math.max(interval.from, timeline.start);
  const to = Math.min(interval.to ?? timeline.end, timeline.end);
  const left = ((from - timeline.start) / span) * 100;
  // At least a sliver, so that a credential switched on and off within a second still shows.
  const width = Math.max(((to - from) / span) * 100, 0.5);
  return { left: `${left.toFixed(3)}%`, width: `${Math.min(width, 100 - left).toFixed(3)}%` };
}
