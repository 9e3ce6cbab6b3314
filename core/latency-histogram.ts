/**
 * Counts of durations in fixed buckets (seconds), as a Prometheus histogram reports them: per
 * upper bound the number of observations at or below it, plus their count and sum. Constant
 * memory, one comparison loop per observation.
 */
export const DEFAULT_BOUNDS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class LatencyHistogram {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot holds those above every bound. */
  private readonly counts: number[];
  count = 0;
  sum = 0;

  constructor(readonly bounds: readonly number[] = DEFAULT_BOUNDS_SECONDS) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(seconds: number): void {
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]) i++;
    this.counts[i]++;
    this.count++;
    this.sum += seconds;
  }

  /** Cumulative counts per upper bound, ending with +Inf (= count). */
  cumulative(): Array<{ le: number; count: number }> {
    let running = 0;
    const out = this.bounds.map((le, i) => ({ le, count: (running += this.counts[i]) }));
    out.push({ le: Infinity, count: this.count });
    return out;
  }
}
