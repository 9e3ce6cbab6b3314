/**
 * A queue's ready entries in delivery order: highest priority first, FIFO within one priority.
 * One Deque per priority level, created when a message of that level first arrives, so a queue
 * whose messages all carry one priority (the usual case: every message has the default) costs
 * one Deque and an index lookup per operation, as the plain FIFO did.
 */
import { Deque } from './deque.js';
import type { QueueEntry } from './queue-types.js';

/** JMS / AMQP priorities are 0..9; a message without one has 4. */
export const DEFAULT_PRIORITY = 4;
const LEVELS = 10;

export class ReadyEntries {
  private readonly levels: Array<Deque<QueueEntry> | undefined> = new Array(LEVELS);
  /** Highest level that may hold entries (levels above it are empty). */
  private top = 0;
  private count = 0;

  /** With `byPriority` false every entry goes to one level: plain FIFO (a queue that opted out). */
  constructor(private readonly byPriority: boolean) {}

  get length(): number {
    return this.count;
  }

  private levelOf(entry: QueueEntry): number {
    if (!this.byPriority) return 0;
    const p = entry.priority;
    return p === undefined ? DEFAULT_PRIORITY : p < 0 ? 0 : p >= LEVELS ? LEVELS - 1 : p;
  }

  private deque(level: number): Deque<QueueEntry> {
    let d = this.levels[level];
    if (!d) this.levels[level] = d = new Deque<QueueEntry>();
    if (level > this.top) this.top = level;
    return d;
  }

  /** Appends at the tail of the entry's priority. */
  push(entry: QueueEntry): void {
    this.deque(this.levelOf(entry)).push(entry);
    this.count++;
  }

  /** Puts an entry back at the head of its priority (requeue). */
  unshift(entry: QueueEntry): void {
    this.deque(this.levelOf(entry)).unshift(entry);
    this.count++;
  }

  /** The entry to deliver next, without taking it. */
  peek(): QueueEntry | undefined {
    if (this.count === 0) return undefined;
    return this.topDeque().peek();
  }

  /** Takes the entry to deliver next. */
  shift(): QueueEntry | undefined {
    if (this.count === 0) return undefined;
    this.count--;
    return this.topDeque().shift();
  }

  /** The highest non-empty level's deque (count > 0). */
  private topDeque(): Deque<QueueEntry> {
    for (;;) {
      const d = this.levels[this.top];
      if (d && d.length > 0) return d;
      this.top--;
    }
  }

  /**
   * Takes the entry that is the least worth keeping: the oldest of the lowest priority present
   * (drop-head overflow). Without priorities that is the head, as before.
   */
  shiftLowest(): QueueEntry | undefined {
    if (this.count === 0) return undefined;
    for (let l = 0; l < LEVELS; l++) {
      const d = this.levels[l];
      if (d && d.length > 0) {
        this.count--;
        return d.shift();
      }
    }
    return undefined;
  }

  /**
   * Takes entries from the head of every level while `take(head)` says so: per-queue TTL keeps
   * each level in expiry order (entries arrive and are requeued in time order within a level).
   */
  shiftWhile(take: (head: QueueEntry) => boolean, each: (entry: QueueEntry) => void): void {
    for (let l = this.top; l >= 0 && this.count > 0; l--) {
      const d = this.levels[l];
      if (!d) continue;
      for (let head = d.peek(); head && take(head); head = d.peek()) {
        d.shift();
        this.count--;
        each(head);
      }
    }
  }

  /** The entry at `index` in delivery order. */
  at(index: number): QueueEntry | undefined {
    if (index < 0 || index >= this.count) return undefined;
    for (let l = this.top; l >= 0; l--) {
      const d = this.levels[l];
      if (!d) continue;
      if (index < d.length) return d.at(index);
      index -= d.length;
    }
    return undefined;
  }

  /** Up to `count` entries from position `from`, in delivery order, without taking them. */
  slice(from: number, count: number): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (let l = this.top; l >= 0 && out.length < count; l--) {
      const d = this.levels[l];
      if (!d) continue;
      if (from >= d.length) {
        from -= d.length;
        continue;
      }
      for (let i = from; i < d.length && out.length < count; i++) out.push(d.at(i)!);
      from = 0;
    }
    return out;
  }

  /** Takes the entry with sequence `seq` out, if there is one. */
  removeSeq(seq: number): QueueEntry | undefined {
    for (let l = this.top; l >= 0; l--) {
      const d = this.levels[l];
      if (!d || d.length === 0) continue;
      const all = d.toArray();
      const i = all.findIndex((e) => e.seq === seq);
      if (i < 0) continue;
      const [entry] = all.splice(i, 1);
      d.clear();
      for (const e of all) d.push(e);
      this.count--;
      return entry;
    }
    return undefined;
  }

  toArray(): QueueEntry[] {
    return this.slice(0, this.count);
  }

  clear(): void {
    this.levels.fill(undefined);
    this.top = 0;
    this.count = 0;
  }
}
