/**
 * A queue's ready entries in delivery order: highest priority first, FIFO within one priority.
 * One Deque per priority level, created when a message of that level first arrives, so a queue
 * whose messages all carry one priority (the usual case: every message has the default) costs
 * one Deque and an index lookup per operation, as the plain FIFO did.
 *
 * A level holds QueueEntry objects and PagedRuns (core/paged-run.ts): the paged backlog of a deep
 * queue is packed into runs instead of an object each. Entries pushed as objects are packed once
 * they have paged out (the queue calls pack() after the journal stored them and their bodies were
 * dropped); recovery pushes paged entries straight into runs. Only a level's newest run takes
 * entries, so the one before is complete when a new one starts, and every level's newest is when
 * recovery is done: a complete run is frozen (bit-packed, PagedRun.settle), and a deep queue's runs
 * then cost about 0.15 byte a message when filled in a row, plus its newest run (4-6 bytes a
 * message, 65,536 at most). Whatever reaches the head, is taken, or is read ahead becomes an object
 * again, in place, so the queue holds the same object from read-ahead to delivery.
 */
import { Deque } from './deque.js';
import { isPackable, PagedRun } from './paged-run.js';
import type { QueueEntry } from './queue-types.js';

/** JMS / AMQP priorities are 0..9; a message without one has 4. */
export const DEFAULT_PRIORITY = 4;
const LEVELS = 10;
/** Objects at a level's tail a pack looks at, at most (the newest). */
const PACK_WINDOW = 4096;
/** A new run starts only for this many packable entries in a row (a short run costs more than objects). */
const MIN_RUN = 32;

type Item = QueueEntry | PagedRun;

class Level {
  readonly items = new Deque<Item>();
  count = 0;
  /** The newest run still in `items`: the only one entries can join (the others are complete). */
  newest: PagedRun | null = null;

  /** A run left `items` (emptied). */
  dropped(run: PagedRun): void {
    if (run === this.newest) this.newest = null;
  }
}

export class ReadyEntries {
  private readonly levels: Array<Level | undefined> = new Array(LEVELS);
  /** Highest level that may hold entries (levels above it are empty). */
  private top = 0;
  private count = 0;
  /** Entries packed in runs now. */
  private packedCount = 0;
  /** Paged entries recovery still expects to push (sizes new runs: no doubling per queue). */
  private expected = 0;

  /** With `byPriority` false every entry goes to one level: plain FIFO (a queue that opted out). */
  constructor(private readonly byPriority: boolean) {}

  get length(): number {
    return this.count;
  }

  /** Bytes of the runs' columns (for measuring what the packed entries cost). */
  get packedBytes(): number {
    let bytes = 0;
    for (const l of this.levels) {
      if (!l) continue;
      for (let j = 0; j < l.items.length; j++) {
        const it = l.items.at(j);
        if (it instanceof PagedRun) bytes += it.byteLength;
      }
    }
    return bytes;
  }

  /** Entries held packed in runs (no object each). */
  get packed(): number {
    return this.packedCount;
  }

  private levelOfPriority(p: number | undefined): number {
    if (!this.byPriority) return 0;
    return p === undefined ? DEFAULT_PRIORITY : p < 0 ? 0 : p >= LEVELS ? LEVELS - 1 : p;
  }

  /**
   * The priority a run keeps for its entries: their level (so that messages without a priority and
   * with the default one share runs), none in a queue without priorities (where it orders nothing).
   */
  private runPriority(p: number | undefined): number | undefined {
    return this.byPriority ? this.levelOfPriority(p) : undefined;
  }

  private level(index: number): Level {
    let l = this.levels[index];
    if (!l) this.levels[index] = l = new Level();
    if (index > this.top) this.top = index;
    return l;
  }

  /** Appends at the tail of the entry's priority. */
  push(entry: QueueEntry): void {
    const l = this.level(this.levelOfPriority(entry.priority));
    l.items.push(entry);
    l.count++;
    this.count++;
  }

  /** Recovery will push `n` paged entries: new runs are made that big at once (trimPaged gives back the rest). */
  expectPaged(n: number): void {
    this.expected = n;
  }

  /**
   * After recovery: each level's newest run is complete too (frozen, or trimmed of the room reserved
   * beyond what it holds); the others were when the next one started.
   */
  trimPaged(): void {
    this.expected = 0;
    for (const l of this.levels) l?.newest?.settle();
  }

  /** Appends a paged entry without making an object of it (recovery of a deep queue). */
  pushPaged(seq: number, size: number, priority: number | undefined, expiry: number | undefined): void {
    const l = this.level(this.levelOfPriority(priority));
    const tail = l.items.last();
    const p = this.runPriority(priority);
    let run: PagedRun;
    if (tail instanceof PagedRun) l.newest = tail; // the level's last run (its newest may have left)
    if (tail instanceof PagedRun && tail.accepts(seq, p)) run = tail;
    else run = this.startRun(l, seq, p, this.expected);
    if (this.expected > 0) this.expected--;
    run.add(seq, size, expiry);
    l.count++;
    this.count++;
    this.packedCount++;
  }

  /** Appends a new run to the level; the level's newest before it is complete. */
  private startRun(l: Level, seq: number, priority: number | undefined, capacity?: number): PagedRun {
    l.newest?.settle();
    const run = new PagedRun(seq, priority, capacity);
    l.items.push(run);
    l.newest = run;
    return run;
  }

  /** Puts an entry back at the head of its priority (requeue). */
  unshift(entry: QueueEntry): void {
    const l = this.level(this.levelOfPriority(entry.priority));
    l.items.unshift(entry);
    l.count++;
    this.count++;
  }

  /** The entry to deliver next, without taking it. */
  peek(): QueueEntry | undefined {
    if (this.count === 0) return undefined;
    return this.headOf(this.topLevel());
  }

  /** Takes the entry to deliver next. */
  shift(): QueueEntry | undefined {
    if (this.count === 0) return undefined;
    return this.take(this.topLevel());
  }

  /** The highest non-empty level (count > 0). */
  private topLevel(): Level {
    for (;;) {
      const l = this.levels[this.top];
      if (l && l.count > 0) return l;
      this.top--;
    }
  }

  /** The level's first entry, made an object in place if it was in a run. */
  private headOf(l: Level): QueueEntry {
    const first = l.items.peek()!;
    if (!(first instanceof PagedRun)) return first;
    const e = first.shift()!;
    this.packedCount--;
    if (first.length === 0) {
      l.items.shift();
      l.dropped(first);
    }
    l.items.unshift(e);
    return e;
  }

  private take(l: Level): QueueEntry {
    const e = this.headOf(l);
    l.items.shift();
    l.count--;
    this.count--;
    return e;
  }

  /**
   * Takes the entry that is the least worth keeping: the oldest of the lowest priority present
   * (drop-head overflow). Without priorities that is the head, as before.
   */
  shiftLowest(): QueueEntry | undefined {
    if (this.count === 0) return undefined;
    for (let i = 0; i < LEVELS; i++) {
      const l = this.levels[i];
      if (l && l.count > 0) return this.take(l);
    }
    return undefined;
  }

  /**
   * Takes entries from the head of every level while `take(head)` says so: per-queue TTL keeps
   * each level in expiry order (entries arrive and are requeued in time order within a level).
   */
  shiftWhile(take: (head: QueueEntry) => boolean, each: (entry: QueueEntry) => void): void {
    for (let i = this.top; i >= 0 && this.count > 0; i--) {
      const l = this.levels[i];
      if (!l) continue;
      while (l.count > 0 && take(this.headOf(l))) each(this.take(l));
    }
  }

  /** The entry at `index` in delivery order (a copy when it is packed in a run). */
  at(index: number): QueueEntry | undefined {
    if (index < 0 || index >= this.count) return undefined;
    const out: QueueEntry[] = [];
    this.collect(index, 1, out);
    return out[0];
  }

  /**
   * Up to `count` entries from position `from`, in delivery order, without taking them. Entries
   * packed in runs come as copies: for looking (browsing, the admin API), not for changing.
   */
  slice(from: number, count: number): QueueEntry[] {
    const out: QueueEntry[] = [];
    this.collect(from, count, out);
    return out;
  }

  private collect(from: number, count: number, out: QueueEntry[]): void {
    for (let i = this.top; i >= 0 && out.length < count; i--) {
      const l = this.levels[i];
      if (!l || l.count === 0) continue;
      if (from >= l.count) {
        from -= l.count;
        continue;
      }
      for (let j = 0; j < l.items.length && out.length < count; j++) {
        const it = l.items.at(j)!;
        if (it instanceof PagedRun) {
          if (from >= it.length) {
            from -= it.length;
            continue;
          }
          it.entriesFrom(from, count - out.length, out);
          from = 0;
        } else if (from > 0) from--;
        else out.push(it);
      }
    }
  }

  /**
   * The first `count` entries in delivery order as the queue's own objects (runs at the head are
   * unpacked in place): the read-ahead loads bodies into them.
   */
  headWindow(count: number): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (let i = this.top; i >= 0 && out.length < count; i--) {
      const l = this.levels[i];
      if (!l || l.count === 0) continue;
      this.unpackHead(l, Math.min(count - out.length, l.count));
      for (let j = 0; j < l.items.length && out.length < count; j++) out.push(l.items.at(j) as QueueEntry);
    }
    return out;
  }

  /** Makes the level's first `count` entries objects. */
  private unpackHead(l: Level, count: number): void {
    let j = 0;
    while (j < count) {
      const it = l.items.at(j);
      if (it === undefined) return;
      if (!(it instanceof PagedRun)) {
        j++;
        continue;
      }
      const before: Item[] = [];
      for (let k = 0; k < j; k++) before.push(l.items.shift()!);
      const run = l.items.shift() as PagedRun;
      const taken: QueueEntry[] = [];
      while (taken.length < count - j && run.length > 0) taken.push(run.shift()!);
      this.packedCount -= taken.length;
      if (run.length > 0) l.items.unshift(run);
      else l.dropped(run);
      for (let k = taken.length - 1; k >= 0; k--) l.items.unshift(taken[k]);
      for (let k = before.length - 1; k >= 0; k--) l.items.unshift(before[k]);
      j += taken.length;
    }
  }

  /** Takes the entry with sequence `seq` out, if there is one. */
  removeSeq(seq: number): QueueEntry | undefined {
    for (let i = this.top; i >= 0; i--) {
      const l = this.levels[i];
      if (!l || l.count === 0) continue;
      for (let j = 0; j < l.items.length; j++) {
        const it = l.items.at(j)!;
        let found: QueueEntry | undefined;
        if (it instanceof PagedRun) {
          found = it.remove(seq);
          if (found) this.packedCount--;
          if (found && it.length === 0) {
            l.items.removeAt(j);
            l.dropped(it);
          }
        } else if (it.seq === seq) {
          found = it;
          l.items.removeAt(j);
        }
        if (found) {
          l.count--;
          this.count--;
          return found;
        }
      }
    }
    return undefined;
  }

  /** Every entry in delivery order (copies for packed ones). */
  toArray(): QueueEntry[] {
    return this.slice(0, this.count);
  }

  clear(): void {
    this.levels.fill(undefined);
    this.top = 0;
    this.count = 0;
    this.packedCount = 0;
  }

  /** Packs paged-out objects at the tail of every level into runs (after their bodies were dropped). */
  pack(): void {
    for (const l of this.levels) if (l && l.count > 0) this.packLevel(l);
  }

  /**
   * Packs the objects after the level's last run (the newest PACK_WINDOW at most), in order: a
   * packable one joins the run before it, or starts a run if MIN_RUN packable ones follow in a
   * row; any other stays an object where it is (and is looked at again by the next pack while no
   * run follows it).
   */
  private packLevel(l: Level): void {
    const tail: QueueEntry[] = [];
    while (tail.length < PACK_WINDOW && l.items.length > 0 && !(l.items.last() instanceof PagedRun)) tail.push(l.items.pop() as QueueEntry);
    tail.reverse();
    const last = l.items.last();
    let run = last instanceof PagedRun ? last : null;
    if (run) l.newest = run; // the level's last run (its newest may have left)
    for (let i = 0; i < tail.length; i++) {
      const e = tail[i];
      if (isPackable(e)) {
        if (run && run.accepts(e.seq, this.runPriority(e.priority))) {
          run.add(e.seq, e.size, e.expiry);
          this.packedCount++;
          continue;
        }
        if (i + MIN_RUN <= tail.length && startsRun(tail, i)) {
          run = this.startRun(l, e.seq, this.runPriority(e.priority));
          run.add(e.seq, e.size, e.expiry);
          this.packedCount++;
          continue;
        }
      }
      l.items.push(e);
      run = null;
    }
  }
}

/** MIN_RUN packable entries from `i` on (all of the level's, so of one run priority). */
function startsRun(tail: QueueEntry[], i: number): boolean {
  for (let k = i; k < i + MIN_RUN; k++) if (!isPackable(tail[k])) return false;
  return true;
}
