/**
 * A run of paged-out queue entries packed into typed arrays, all of one priority level
 * (ready-entries.ts). A deep queue keeps its paged backlog as runs instead of an object each; an
 * entry becomes a QueueEntry again only when it nears the head (read-ahead, delivery, expiry) or
 * is looked at (browsing, the admin API). Only plain paged entries are packed: durable, body on
 * disk, never delivered (ready-entries.ts decides).
 *
 * A run is open while entries can join it: seq (as an offset from the run's first: u16 while the
 * run spans fewer than 65,536 seqs, else u32), size (u16; one of 65,534 bytes or more is kept in a
 * side map), and expiry (f64) only when one of them has one: 4 bytes a message when its seqs are
 * close, 6 when spread, 8 more with expiries. Once complete (a newer run starts after it in its
 * level, or recovery is done: ready-entries.ts) a run of FREEZE_MIN entries or more is frozen: the
 * same columns bit-packed (core/frozen-columns.ts), about 0.15 byte a message for a queue filled
 * in a row or several filled in turn (seqs rising steadily, one size), about a byte when sizes or
 * seq gaps vary by a few tens; a smaller one is only trimmed (bit-packing costs about 1 KiB a run
 * in typed-array objects). A deep queue's runs then cost well under a byte a message but for its
 * newest run (65,536 entries at most).
 */
import { FrozenColumns } from './frozen-columns.js';
import type { QueueEntry } from './queue-types.js';

/** Entries per run at most (a new run starts after). */
const RUN_MAX = 65536;
const FIRST_CAPACITY = 16;
/** `sizes` value of an entry taken out of the middle (open runs; frozen ones keep a bitset). */
const HOLE = 0xffff;
/** `sizes` value of an entry whose size is in `longSizes`. */
const LONG = 0xfffe;
const TWO_32 = 2 ** 32;
const TWO_16 = 65536;
/** A complete run with fewer entries is trimmed, not frozen (its typed-array objects would cost more than they save). */
const FREEZE_MIN = 512;
const NO_ENTRIES = new Uint16Array(0);

export class PagedRun {
  /** The open columns (empty once frozen). */
  private seqs: Uint16Array | Uint32Array;
  private sizes: Uint16Array;
  /** NaN: no expiry. Allocated at the first entry with one. */
  private expiries: Float64Array | null = null;
  /** The columns once the run is complete (`freeze`). */
  private frozen: FrozenColumns | null = null;
  /** Sizes of LONG or more, by seq offset. */
  private longSizes: Map<number, number> | null = null;
  private head = 0;
  private n = 0;
  private live = 0;

  /** `capacity`: entries expected (recovery knows how many a queue gets), else it starts small and doubles. */
  constructor(private readonly base: number, readonly priority: number | undefined, capacity = FIRST_CAPACITY) {
    const cap = Math.min(RUN_MAX, Math.max(FIRST_CAPACITY, capacity));
    this.seqs = new Uint16Array(cap);
    this.sizes = new Uint16Array(cap);
  }

  /** Entries in the run. */
  get length(): number {
    return this.live;
  }

  /** Frozen: no entry can join it any more. */
  get isFrozen(): boolean {
    return this.frozen !== null;
  }

  /** Bytes of the run's columns (what it holds per message, for measuring). */
  get byteLength(): number {
    return this.frozen ? this.frozen.byteLength : this.seqs.byteLength + this.sizes.byteLength + (this.expiries?.byteLength ?? 0);
  }

  /** The entry can go at the end: an open run, same priority, a later seq, room left. */
  accepts(seq: number, priority: number | undefined): boolean {
    return this.frozen === null && priority === this.priority && (this.n < RUN_MAX || this.head >= RUN_MAX >> 1)
      && seq - this.base < TWO_32
      && (this.n === 0 ? seq >= this.base : seq > this.base + this.seqs[this.n - 1]);
  }

  /** Appends an entry (`accepts` said yes). */
  add(seq: number, size: number, expiry: number | undefined): void {
    if (this.frozen) throw new Error('a frozen run takes no more entries');
    if (this.n === this.seqs.length) this.grow();
    if (seq - this.base >= TWO_16 && this.seqs instanceof Uint16Array) this.seqs = Uint32Array.from(this.seqs);
    this.seqs[this.n] = seq - this.base;
    if (size < LONG) this.sizes[this.n] = size;
    else {
      this.sizes[this.n] = LONG;
      (this.longSizes ??= new Map()).set(seq - this.base, size);
    }
    if (expiry !== undefined) {
      if (!this.expiries) this.expiries = new Float64Array(this.seqs.length).fill(NaN);
      this.expiries[this.n] = expiry;
    } else if (this.expiries) this.expiries[this.n] = NaN;
    this.n++;
    this.live++;
  }

  /**
   * No more entries will join the run (a newer one follows it, or recovery is done): it is frozen
   * if it holds FREEZE_MIN entries or more, else trimmed (and may still take entries).
   */
  settle(): void {
    if (this.live >= FREEZE_MIN) this.freeze();
    else this.trim();
  }

  /**
   * No more entries will join the run: its entries left are bit-packed (holes and those taken
   * from the head dropped). The rest of the run's operations work as before.
   */
  freeze(): void {
    if (this.frozen) return;
    this.skipHoles();
    const count = this.live;
    let seqs: ArrayLike<number> = this.seqs.subarray(this.head, this.n);
    let sizes: ArrayLike<number> = this.sizes.subarray(this.head, this.n);
    let expiries: ArrayLike<number> | null = this.expiries?.subarray(this.head, this.n) ?? null;
    if (count !== this.n - this.head) {
      // Holes in the middle: keep the entries only.
      const s = new Uint32Array(count);
      const z = new Uint16Array(count);
      const e = expiries ? new Float64Array(count) : null;
      for (let i = this.head, k = 0; i < this.n; i++) {
        if (this.sizes[i] === HOLE) continue;
        s[k] = this.seqs[i];
        z[k] = this.sizes[i];
        if (e) e[k] = this.expiries![i];
        k++;
      }
      [seqs, sizes, expiries] = [s, z, e];
    }
    this.frozen = FrozenColumns.from(seqs, sizes, expiries, count);
    this.seqs = this.sizes = NO_ENTRIES;
    this.expiries = null;
    this.head = 0;
    this.n = count;
  }

  /** Takes the first entry out as a QueueEntry. */
  shift(): QueueEntry | undefined {
    this.skipHoles();
    if (this.head >= this.n) return undefined;
    const e = this.entry(this.head);
    if (this.sizeAt(this.head) === LONG) this.longSizes!.delete(this.seqAt(this.head));
    this.head++;
    this.live--;
    return e;
  }

  /** The k-th entry as a fresh QueueEntry, left in the run (a copy: for looking, not for delivering). */
  entryAt(k: number): QueueEntry | undefined {
    if (k < 0 || k >= this.live) return undefined;
    const out: QueueEntry[] = [];
    this.entriesFrom(k, 1, out);
    return out[0];
  }

  /** Copies of entries from the k-th on, up to `max`. */
  entriesFrom(k: number, max: number, out: QueueEntry[]): void {
    this.skipHoles();
    let i = this.head;
    if (this.live === this.n - this.head) {
      // No holes: the k-th is at head + k.
      i += k;
      k = 0;
    }
    for (; i < this.n && max > 0; i++) {
      if (this.isHole(i)) continue;
      if (k > 0) {
        k--;
        continue;
      }
      out.push(this.entry(i));
      max--;
    }
  }

  /** Takes the entry with `seq` out; its copy, or undefined if it is not in the run. */
  remove(seq: number): QueueEntry | undefined {
    const off = seq - this.base;
    if (off < 0 || this.live === 0 || off > this.seqAt(this.n - 1)) return undefined;
    let lo = this.head;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.seqAt(mid);
      if (v === off) {
        if (this.isHole(mid)) return undefined;
        const e = this.entry(mid);
        if (this.sizeAt(mid) === LONG) this.longSizes!.delete(off);
        if (this.frozen) this.frozen.setHole(mid);
        else this.sizes[mid] = HOLE;
        this.live--;
        this.skipHoles();
        return e;
      }
      if (v < off) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /** Gives back room reserved beyond what the run holds (after recovery reserved it). Nothing to give back once frozen. */
  trim(): void {
    const keep = this.n - this.head;
    if (this.frozen || this.seqs.length <= Math.max(FIRST_CAPACITY, keep * 2)) return;
    this.seqs = this.seqs.slice(this.head, this.n);
    this.sizes = this.sizes.slice(this.head, this.n);
    if (this.expiries) this.expiries = this.expiries.slice(this.head, this.n);
    this.head = 0;
    this.n = keep;
  }

  private seqAt(i: number): number {
    return this.frozen ? this.frozen.seq(i) : this.seqs[i];
  }

  /** The size, or LONG (then it is in `longSizes`), or HOLE in an open run. */
  private sizeAt(i: number): number {
    return this.frozen ? this.frozen.size(i) : this.sizes[i];
  }

  private isHole(i: number): boolean {
    return this.frozen ? this.frozen.isHole(i) : this.sizes[i] === HOLE;
  }

  private skipHoles(): void {
    while (this.head < this.n && this.isHole(this.head)) this.head++;
  }

  private entry(i: number): QueueEntry {
    const expiry = this.frozen ? this.frozen.expiry(i) : this.expiries ? this.expiries[i] : NaN;
    const size = this.sizeAt(i);
    return {
      seq: this.base + this.seqAt(i), message: undefined, priority: this.priority, expiry: Number.isNaN(expiry) ? undefined : expiry,
      pageable: true, deliveryCount: 0, redelivered: false, persisted: true,
      size: size === LONG ? this.longSizes!.get(this.seqAt(i))! : size,
    };
  }

  private grow(): void {
    if (this.head >= this.seqs.length >> 1) {
      // Drained from the front while filled at the back: move the rest down instead of growing.
      const keep = this.n - this.head;
      this.seqs.copyWithin(0, this.head, this.n);
      this.sizes.copyWithin(0, this.head, this.n);
      this.expiries?.copyWithin(0, this.head, this.n);
      this.head = 0;
      this.n = keep;
      return;
    }
    const cap = Math.min(RUN_MAX, this.seqs.length * 2);
    const seqs = this.seqs instanceof Uint16Array ? new Uint16Array(cap) : new Uint32Array(cap);
    seqs.set(this.seqs);
    this.seqs = seqs;
    const sizes = new Uint16Array(cap);
    sizes.set(this.sizes);
    this.sizes = sizes;
    if (this.expiries) {
      const expiries = new Float64Array(cap).fill(NaN);
      expiries.set(this.expiries);
      this.expiries = expiries;
    }
  }
}

/** An entry that can live in a run: durable, body on disk only, never delivered, nothing special. */
export function isPackable(e: QueueEntry): boolean {
  return e.message === undefined && e.pageable === true && e.persisted && !e.redelivered && e.deliveryCount === 0
    && e.avoid === undefined && e.reading !== true;
}
