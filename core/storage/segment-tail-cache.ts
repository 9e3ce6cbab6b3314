/**
 * The newest batches of one partition, in memory: every batch not yet written to its segment
 * (reads racing appends are served from here) plus the most recent written ones up to a byte
 * budget (tailing consumers never touch the file). Holds the appended buffers, not copies.
 */
interface CachedBatch {
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  buf: Buffer;
}

export class TailCache {
  private batches: CachedBatch[] = [];
  private head = 0;
  private bytes = 0;

  constructor(private readonly budgetBytes: number) {}

  /** First cached offset, or `fallback` (the log end) when empty. */
  start(fallback: number): number {
    return this.head < this.batches.length ? this.batches[this.head].baseOffset : fallback;
  }

  push(baseOffset: number, lastOffset: number, maxTimestamp: number, buf: Buffer): void {
    this.batches.push({ baseOffset, lastOffset, maxTimestamp, buf });
    this.bytes += buf.length;
  }

  /** Drops batches below `logStart`, and written ones (below `writtenEnd`) beyond the budget. */
  trim(writtenEnd: number, logStart: number): void {
    while (this.head < this.batches.length) {
      const b = this.batches[this.head];
      const expired = b.lastOffset < logStart;
      if (!expired && (b.lastOffset >= writtenEnd || this.bytes <= this.budgetBytes)) break;
      this.bytes -= b.buf.length;
      this.batches[this.head++] = undefined as unknown as CachedBatch;
    }
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.head);
      this.head = 0;
    }
  }

  /** Whole batches from the one holding `offset` (at least one), or null if `offset` is older than the cache. */
  read(offset: number, maxBytes: number): Buffer[] | null {
    if (this.head >= this.batches.length || offset < this.batches[this.head].baseOffset) return null;
    const out: Buffer[] = [];
    let total = 0;
    for (let i = this.indexOf(offset); i < this.batches.length; i++) {
      const b = this.batches[i].buf;
      if (out.length > 0 && total + b.length > maxBytes) break;
      out.push(b);
      total += b.length;
    }
    return out;
  }

  /** The first cached batch from `offset` on whose newest timestamp is at least `timestamp`. */
  findTimestamp(offset: number, timestamp: number): Buffer | null {
    for (let i = this.indexOf(offset); i < this.batches.length; i++) {
      if (this.batches[i].maxTimestamp >= timestamp) return this.batches[i].buf;
    }
    return null;
  }

  /** Index of the first cached batch with lastOffset >= offset. */
  private indexOf(offset: number): number {
    let lo = this.head;
    let hi = this.batches.length - 1;
    let found = this.batches.length;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.batches[mid].lastOffset >= offset) {
        found = mid;
        hi = mid - 1;
      } else lo = mid + 1;
    }
    return found;
  }
}
