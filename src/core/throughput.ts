/** How far back the rate looks: long enough to smooth batches, short enough to follow a change of pace. */
const WINDOW_MS = 10_000;
/** Below this much time seen, a rate says more about one batch than about the pace. */
const MIN_SPAN_MS = 1000;

/** The pace of a count that grows (events applied), over the last few seconds. */
export class Throughput {
  private samples: { at: number; count: number }[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  record(count: number): void {
    const at = this.now();
    // A count that went back (a rebuild started again) makes the older samples meaningless.
    if (this.samples.length > 0 && count < this.samples[this.samples.length - 1].count) this.samples = [];
    this.samples.push({ at, count });
    while (this.samples.length > 2 && at - this.samples[1].at >= WINDOW_MS) this.samples.shift();
  }

  /** Per second, or null while too little time has been seen. */
  perSecond(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || last.at - first.at < MIN_SPAN_MS) return null;
    return ((last.count - first.count) * 1000) / (last.at - first.at);
  }

  /** Seconds until `left` more are counted at this pace, or null when the pace is unknown or nil. */
  secondsFor(left: number | null): number | null {
    const rate = this.perSecond();
    if (left === null || rate === null) return null;
    if (left === 0) return 0;
    return rate > 0 ? Math.ceil(left / rate) : null;
  }
}
