/**
 * The journal's index of live queued messages, packed: where each message's bytes are (segment,
 * file position, length), which queue holds it, and the summary a paged queue needs (size,
 * priority, expiry). Messages are grouped by seq into chunks of SPAN consecutive seqs; a chunk
 * keeps its live messages in typed-array columns sorted by seq (15 bytes a message: u16 seq offset,
 * u16 index into the chunk's list of segment ids, u32 position, u16 length, u16 queue id (u32 in
 * a chunk holding an id past 65,533), u16 size, u8 priority), so a deep queue costs no JavaScript
 * object and no map entry per message. What is
 * rare lives in side maps of its chunk: a message in several queues (fan-out), a message with an
 * expiry, a length or size of 65,535 bytes or more (the u16 column then holds ESCAPE).
 *
 * Seqs are assigned in order and journaled almost in order, so an enqueue is nearly always an
 * append to the newest chunk; one out of order (a transaction committed late) is inserted. A
 * removal marks its slot dead; a chunk squeezes its dead slots out once they are half of it, and
 * is dropped when its last message goes.
 *
 * A chunk the newest seqs have moved past is frozen: its columns become bit-packed (packed-ints.ts),
 * which for messages journaled in a row (steady seqs and file positions, one queue, one size)
 * takes about a byte a message instead of 15, and removals mark a bit per slot. Whatever else
 * would change a frozen chunk (a compaction moving a message, a late insert, half of it dead) thaws
 * it back into plain columns first; cold chunks are frozen again when the next chunk starts and
 * when a snapshot is captured.
 *
 * Copy-on-write for the index snapshot (journal-snapshot.ts): capture() marks every chunk shared
 * and hands them out as they are; a change to a shared chunk while the snapshot is written goes to
 * a copy of it, which replaces it in the table. Capturing costs one pass over the chunks (not the
 * messages), and the snapshot is encoded in the background from chunks that no longer change.
 */
import { bitsetBytes, countBits, hasBit, setBit } from '../bitset.js';
import { PACK_BLOCK, PackedInts, type PackedParts } from '../packed-ints.js';
import type { MessageSummary } from '../store.js';
import { SNAPSHOT_VERSION, type Column, type SnapshotReader, type SnapshotWriter } from './snapshot-codec.js';

/** Consecutive seqs per chunk (the column `off` is a u16 offset from the chunk's base). */
const SPAN = 65536;
const FIRST_CAPACITY = 64;
/**
 * `queue` column values that are not queue ids; a queue id is stored plus QUEUE_BASE. Journal queue
 * ids count up from 1 (never reused), so the column is u16 until one passes 65,533, after which a
 * chunk that holds one widens to u32.
 */
const DEAD = 0;
const MULTI = 1;
const QUEUE_BASE = 2;
const NARROW_QUEUE_MAX = 0xffff - QUEUE_BASE;
/** `prio` column: no priority. */
const NO_PRIORITY = 255;
/** `len` and `size` columns: the value is in the chunk's side map (65,535 or more). */
const ESCAPE = 0xffff;
/** Segment ids a chunk's list may hold (its `seg` column is a u16 index into it). */
const MAX_SEGMENTS = 0xffff;

/** A chunk is frozen only with this many live messages (packing a few costs more than it saves). */
const MIN_FREEZE = 256;

/** One enqueue's fixed bytes: kind, seq, queue count, message length (journal-format.ts entrySize). */
const ENQUEUE_FIXED = 15;

/** A u16 column's value `v` for `seq`, whose values of ESCAPE or more live in `long`. */
function unescaped(v: number, long: Map<number, number> | null, seq: number): number {
  return v === ESCAPE ? long!.get(seq)! : v;
}

/** Writes `value` into slot `i` of such a column, or ESCAPE there and the value in `long` (made when needed); returns `long`. */
function setEscaped(col: Uint16Array, long: Map<number, number> | null, i: number, seq: number, value: number): Map<number, number> | null {
  if (value < ESCAPE) {
    if (col[i] === ESCAPE) long?.delete(seq);
    col[i] = value;
    return long;
  }
  col[i] = ESCAPE;
  (long ??= new Map()).set(seq, value);
  return long;
}

/** How a snapshot (version 3 on) stores a chunk. */
const PLAIN_CHUNK = 0;
const PACKED_CHUNK = 1;
const PACKED_NAMES = ['off', 'seg', 'at', 'len', 'queue', 'size', 'prio'] as const;

/** A frozen chunk's columns (Chunk's, bit-packed). */
interface PackedColumns {
  off: PackedInts;
  seg: PackedInts;
  at: PackedInts;
  len: PackedInts;
  queue: PackedInts;
  size: PackedInts;
  prio: PackedInts;
}

/** Columns of a chunk a walk over every message reads (forEach). */
interface WalkColumns {
  off: Uint32Array | Uint16Array;
  queue: Uint32Array | Uint16Array;
  size: Uint32Array | Uint16Array;
  prio: Uint32Array | Uint8Array;
}

const walkColumns = (): WalkColumns => ({ off: new Uint32Array(SPAN), queue: new Uint32Array(SPAN), size: new Uint32Array(SPAN), prio: new Uint32Array(SPAN) });

class Chunk {
  n = 0;
  live = 0;
  /** Messages of the chunk in several queues, by seq. */
  fanout: Map<number, Fanout> | null = null;
  /** Expiries of the chunk's messages that have one, by seq. */
  expiries: Map<number, number> | null = null;
  /** Lengths and sizes of ESCAPE or more, by seq. */
  longLen: Map<number, number> | null = null;
  longSize: Map<number, number> | null = null;
  /** Held by a snapshot being written: the table changes a copy instead. */
  shared = false;
  /** Segment ids the chunk's messages are in (a few: messages of neighbouring seqs are journaled together). */
  segs: number[] = [];
  off: Uint16Array;
  /** Index into `segs`. */
  seg: Uint16Array;
  at: Uint32Array;
  len: Uint16Array;
  /** Queue id + QUEUE_BASE, or DEAD, or MULTI (the queues are in `fanout`). */
  queue: Uint16Array | Uint32Array;
  size: Uint16Array;
  prio: Uint8Array;
  /** Frozen: the columns above are empty, these hold them; `dead` has a bit per slot taken out. */
  packed: PackedColumns | null = null;
  dead: Uint8Array | null = null;

  constructor(readonly base: number, capacity = FIRST_CAPACITY, wideQueues = false) {
    this.off = new Uint16Array(capacity);
    this.seg = new Uint16Array(capacity);
    this.at = new Uint32Array(capacity);
    this.len = new Uint16Array(capacity);
    this.queue = wideQueues ? new Uint32Array(capacity) : new Uint16Array(capacity);
    this.size = new Uint16Array(capacity);
    this.prio = new Uint8Array(capacity);
  }

  /** Sets slot `i`'s single queue (widening the column for an id past u16). */
  setQueue(i: number, queue: number): void {
    if (queue > NARROW_QUEUE_MAX && this.queue instanceof Uint16Array) this.queue = Uint32Array.from(this.queue);
    this.queue[i] = queue + QUEUE_BASE;
  }

  offAt(i: number): number {
    return this.packed ? this.packed.off.get(i) : this.off[i];
  }

  atAt(i: number): number {
    return this.packed ? this.packed.at.get(i) : this.at[i];
  }

  /** Queue id + QUEUE_BASE, DEAD or MULTI. */
  queueAt(i: number): number {
    if (!this.packed) return this.queue[i];
    return hasBit(this.dead!, i) ? DEAD : this.packed.queue.get(i);
  }

  prioAt(i: number): number {
    return this.packed ? this.packed.prio.get(i) : this.prio[i];
  }

  segAt(i: number): number {
    return this.segs[this.packed ? this.packed.seg.get(i) : this.seg[i]];
  }

  lenAt(i: number, seq: number): number {
    return unescaped(this.packed ? this.packed.len.get(i) : this.len[i], this.longLen, seq);
  }

  sizeAt(i: number, seq: number): number {
    return unescaped(this.packed ? this.packed.size.get(i) : this.size[i], this.longSize, seq);
  }

  /** Marks slot `i` taken out. */
  setDead(i: number): void {
    if (this.packed) setBit(this.dead!, i);
    else this.queue[i] = DEAD;
  }

  /** Packs the columns (squeezing dead slots out first). A chunk the table owns (not shared). */
  freeze(): void {
    if (this.packed) return;
    if (this.live !== this.n) this.squeeze();
    const n = this.n;
    this.packed = {
      off: PackedInts.from(this.off, n), seg: PackedInts.from(this.seg, n), at: PackedInts.from(this.at, n),
      len: PackedInts.from(this.len, n), queue: PackedInts.from(this.queue, n), size: PackedInts.from(this.size, n),
      prio: PackedInts.from(this.prio, n),
    };
    this.dead = new Uint8Array(bitsetBytes(n));
    this.off = this.seg = this.len = this.size = new Uint16Array(0);
    this.at = new Uint32Array(0);
    this.queue = this.queue instanceof Uint16Array ? new Uint16Array(0) : new Uint32Array(0);
    this.prio = new Uint8Array(0);
  }

  /** A frozen chunk's columns a walk reads, decoded into `into` (dead slots' queue: DEAD). */
  decodeInto(into: WalkColumns): WalkColumns {
    const p = this.packed!;
    p.off.copyTo(into.off);
    p.queue.copyTo(into.queue);
    p.size.copyTo(into.size);
    p.prio.copyTo(into.prio);
    const dead = this.dead!;
    for (let b = 0; b < dead.length; b++) {
      if (dead[b] === 0) continue;
      for (let i = b * 8; i < b * 8 + 8; i++) if (hasBit(dead, i)) into.queue[i] = DEAD;
    }
    return into;
  }

  /** Plain columns again, holding the live slots only. A chunk the table owns (not shared). */
  thaw(): void {
    const p = this.packed;
    if (!p) return;
    let cap = FIRST_CAPACITY;
    while (cap < this.live) cap *= 2;
    this.off = new Uint16Array(cap);
    this.seg = new Uint16Array(cap);
    this.at = new Uint32Array(cap);
    this.len = new Uint16Array(cap);
    this.queue = this.queue instanceof Uint16Array ? new Uint16Array(cap) : new Uint32Array(cap);
    this.size = new Uint16Array(cap);
    this.prio = new Uint8Array(cap);
    let w = 0;
    for (let r = 0; r < this.n; r++) {
      const q = this.queueAt(r);
      if (q === DEAD) continue;
      this.off[w] = p.off.get(r);
      this.seg[w] = p.seg.get(r);
      this.at[w] = p.at.get(r);
      this.len[w] = p.len.get(r);
      this.queue[w] = q;
      this.size[w] = p.size.get(r);
      this.prio[w] = p.prio.get(r);
      w++;
    }
    this.packed = null;
    this.dead = null;
    this.n = w;
    this.compactSegs();
  }

  /** Sets slot `i`'s segment (nearly always the newest in the list: an append, or a compaction copy to the head). */
  setSeg(i: number, seg: number): void {
    const segs = this.segs;
    let k = segs.length - 1;
    if (k < 0 || segs[k] !== seg) {
      k = segs.lastIndexOf(seg);
      if (k < 0) {
        if (segs.length >= MAX_SEGMENTS) this.compactSegs(i);
        // 65,535 segments each holding a live message of these 65,536 seqs: some 4 TB of journal.
        if (this.segs.length >= MAX_SEGMENTS) throw new RangeError('journal index: a chunk of seqs spans too many segments');
        k = this.segs.push(seg) - 1;
      }
    }
    this.seg[i] = k;
  }

  setLen(i: number, seq: number, len: number): void {
    this.longLen = setEscaped(this.len, this.longLen, i, seq, len);
  }

  setSize(i: number, seq: number, size: number): void {
    this.longSize = setEscaped(this.size, this.longSize, i, seq, size);
  }

  /** Drops segment ids no live slot uses any more (compaction moved their messages); slot `skip` is being set. */
  compactSegs(skip = -1): void {
    const map = new Map<number, number>();
    const segs: number[] = [];
    for (let i = 0; i < this.n; i++) {
      if (i === skip || this.queue[i] === DEAD) continue; // plain columns only (frozen chunks thaw first)
      const id = this.segs[this.seg[i]];
      let k = map.get(id);
      if (k === undefined) {
        k = segs.push(id) - 1;
        map.set(id, k);
      }
      this.seg[i] = k;
    }
    this.segs = segs;
  }

  get capacity(): number {
    return this.off.length;
  }

  /** Bytes its columns hold (side maps not counted). */
  get columnBytes(): number {
    let bytes = this.columns().reduce((sum, col) => sum + col.byteLength, 0);
    if (this.packed) for (const col of Object.values(this.packed)) bytes += col.byteLength;
    return bytes + (this.dead?.byteLength ?? 0);
  }

  /** A private copy (copy-on-write, and squeezed copies for a snapshot); a frozen one shares the packed columns. */
  clone(): Chunk {
    const c = new Chunk(this.base, 0);
    if (this.packed) {
      c.packed = this.packed;
      c.dead = this.dead!.slice();
    }
    c.n = this.n;
    c.live = this.live;
    c.off = this.off.slice();
    c.seg = this.seg.slice();
    c.at = this.at.slice();
    c.len = this.len.slice();
    c.queue = this.queue.slice();
    c.size = this.size.slice();
    c.prio = this.prio.slice();
    c.segs = [...this.segs];
    if (this.longLen) c.longLen = new Map(this.longLen);
    if (this.longSize) c.longSize = new Map(this.longSize);
    if (this.fanout) c.fanout = new Map([...this.fanout].map(([seq, f]) => [seq, { queues: [...f.queues], bytes: f.bytes }]));
    if (this.expiries) c.expiries = new Map(this.expiries);
    return c;
  }

  /** Slot of `off`, or -1. */
  find(off: number): number {
    const n = this.n;
    if (n > 0 && this.offAt(n - 1) === off) return n - 1;
    let lo = 0;
    let hi = n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.offAt(mid);
      if (v === off) return mid;
      if (v < off) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** A new slot for `off` (not present), kept in order. */
  insert(off: number): number {
    if (this.n === this.capacity) this.resize(Math.min(SPAN, this.capacity * 2));
    let i = this.n;
    if (i > 0 && this.off[i - 1] > off) {
      // Out of order (rare): shift the later slots up by one.
      let lo = 0;
      let hi = i;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.off[mid] < off) lo = mid + 1;
        else hi = mid;
      }
      for (const col of this.columns()) col.copyWithin(lo + 1, lo, i);
      i = lo;
    }
    this.off[i] = off;
    this.n++;
    return i;
  }

  /** Squeezes dead slots out (and shrinks the columns when mostly empty). */
  squeeze(): void {
    let w = 0;
    for (let r = 0; r < this.n; r++) {
      if (this.queue[r] === DEAD) continue;
      if (w !== r) for (const col of this.columns()) col[w] = col[r];
      w++;
    }
    this.n = w;
    this.compactSegs();
    let cap = this.capacity;
    while (cap > FIRST_CAPACITY && w * 4 <= cap) cap >>= 1;
    if (cap !== this.capacity) this.resize(cap);
  }

  columns(): Array<Uint16Array | Uint32Array | Uint8Array> {
    return [this.off, this.seg, this.at, this.len, this.queue, this.size, this.prio];
  }

  resize(capacity: number): void {
    const grow = <T extends Uint16Array | Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(capacity);
      b.set(a.subarray(0, Math.min(this.n, capacity)));
      return b;
    };
    this.off = grow(this.off, (n) => new Uint16Array(n));
    this.seg = grow(this.seg, (n) => new Uint16Array(n));
    this.at = grow(this.at, (n) => new Uint32Array(n));
    this.len = grow(this.len, (n) => new Uint16Array(n));
    this.queue = grow<Uint16Array | Uint32Array>(this.queue, (n) => (this.queue instanceof Uint16Array ? new Uint16Array(n) : new Uint32Array(n)));
    this.size = grow(this.size, (n) => new Uint16Array(n));
    this.prio = grow(this.prio, (n) => new Uint8Array(n));
  }
}

/** A chunk's count, queue column width and segment list (both kinds of chunk). */
function writeHead(w: SnapshotWriter, c: Chunk): void {
  w.u32(c.n);
  w.u8(c.queue.BYTES_PER_ELEMENT);
  w.u32(c.segs.length);
  for (const id of c.segs) w.f64(id);
}

function writePacked(w: SnapshotWriter, col: PackedInts): void {
  const p = col.parts();
  w.u32(p.length);
  w.u32(p.words.length);
  const blocks = p.base.length;
  for (const a of [p.base, p.slope, p.width, p.bitAt] as Column[]) w.column(a, blocks);
  w.column(p.words, p.words.length);
}

function readPacked(r: SnapshotReader): PackedInts {
  const length = r.u32();
  const words = r.u32();
  if (length > SPAN || words > SPAN + 1) throw new RangeError('index snapshot: bad packed column');
  const blocks = Math.ceil(length / PACK_BLOCK);
  const parts: PackedParts = {
    length, base: r.column(new Float64Array(blocks), blocks), slope: r.column(new Int32Array(blocks), blocks),
    width: r.column(new Uint8Array(blocks), blocks), bitAt: r.column(new Uint32Array(blocks), blocks), words: new Uint32Array(words),
  };
  r.column(parts.words, words);
  return PackedInts.fromParts(parts);
}

/** A message in several queues: its remaining queues and the bytes of its enqueue entry. */
interface Fanout {
  queues: number[];
  bytes: number;
}

/** A table frozen for a snapshot (MessageTable.capture). */
export interface TableCapture {
  readonly chunks: readonly Chunk[];
}

/** One live message, as the table hands it out (a fresh object per call: not kept). */
export interface TableMessage {
  seq: number;
  seg: number;
  at: number;
  len: number;
  /** Bytes of its enqueue entry (what it adds to its segment's live bytes). */
  bytes: number;
  queues: number[];
  summary: MessageSummary;
}

export class MessageTable {
  private readonly chunks = new Map<number, Chunk>();
  private count = 0;
  /** Segment of the message the last removal took out. */
  removedSeg = -1;

  get size(): number {
    return this.count;
  }

  /** Bytes the chunks' columns hold (what a queued message costs here, side maps aside). */
  get columnBytes(): number {
    let bytes = 0;
    for (const c of this.chunks.values()) bytes += c.columnBytes;
    return bytes;
  }

  private slot(seq: number): [Chunk, number] | null {
    const c = this.chunks.get(Math.floor(seq / SPAN));
    if (!c) return null;
    const i = c.find(seq % SPAN);
    return i < 0 || c.queueAt(i) === DEAD ? null : [c, i];
  }

  has(seq: number): boolean {
    return this.slot(seq) !== null;
  }

  /** The chunk itself, or its copy in its place if a snapshot being written holds it. */
  private own(c: Chunk): Chunk {
    if (!c.shared) return c;
    const copy = c.clone();
    this.chunks.set(Math.floor(c.base / SPAN), copy);
    return copy;
  }

  /**
   * Sets message `seq` at (seg, at, len) in `queues`. `summary` undefined keeps the one it has (a
   * compaction copy: the same message elsewhere). Returns the bytes of the entry it replaced, or
   * -1 if it was not live.
   */
  set(seq: number, seg: number, at: number, len: number, queues: number[], summary: MessageSummary | undefined): number {
    const key = Math.floor(seq / SPAN);
    let c = this.chunks.get(key);
    if (!c) {
      this.chunks.set(key, (c = new Chunk(key * SPAN)));
      this.freezeCold(key);
    } else {
      c = this.own(c);
      c.thaw();
    }
    const off = seq % SPAN;
    let i = c.find(off);
    let old = -1;
    if (i >= 0 && c.queue[i] !== DEAD) old = this.bytesAt(c, i, seq);
    else {
      if (i < 0) i = c.insert(off);
      c.live++;
      this.count++;
      c.prio[i] = NO_PRIORITY;
      c.size[i] = 0;
      c.len[i] = 0;
    }
    c.setSeg(i, seg);
    c.at[i] = at;
    c.setLen(i, seq, len);
    if (queues.length === 1) {
      c.setQueue(i, queues[0]);
      c.fanout?.delete(seq);
    } else {
      c.queue[i] = MULTI;
      (c.fanout ??= new Map()).set(seq, { queues: [...queues], bytes: ENQUEUE_FIXED + 4 * queues.length + len });
    }
    if (summary) {
      c.setSize(i, seq, summary.size);
      c.prio[i] = summary.priority === undefined ? NO_PRIORITY : summary.priority;
      if (summary.expiry !== undefined) (c.expiries ??= new Map()).set(seq, summary.expiry);
      else c.expiries?.delete(seq);
    }
    return old;
  }

  /** Queues message `seq` is still in (a fresh array), or undefined if it is not live. */
  queues(seq: number): number[] | undefined {
    const s = this.slot(seq);
    if (!s) return undefined;
    const q = s[0].queueAt(s[1]);
    return q === MULTI ? [...s[0].fanout!.get(seq)!.queues] : [q - QUEUE_BASE];
  }

  /** True if message `seq` is live in `queue`. */
  inQueue(seq: number, queue: number): boolean {
    const s = this.slot(seq);
    if (!s) return false;
    const q = s[0].queueAt(s[1]);
    return q === MULTI ? s[0].fanout!.get(seq)!.queues.includes(queue) : q - QUEUE_BASE === queue;
  }

  /**
   * Takes `queue` off message `seq`. Returns the bytes of its entry if that was its last queue (it is
   * gone), 0 if it stays in others, -1 if it was not in `queue`.
   */
  removeQueue(seq: number, queue: number): number {
    const s = this.slot(seq);
    if (!s) return -1;
    const i = s[1];
    const q = s[0].queueAt(i);
    if (q === MULTI ? !s[0].fanout!.get(seq)!.queues.includes(queue) : q - QUEUE_BASE !== queue) return -1;
    const c = this.own(s[0]);
    if (q === MULTI) {
      const f = c.fanout!.get(seq)!;
      f.queues.splice(f.queues.indexOf(queue), 1);
      if (f.queues.length > 0) return 0;
    }
    const bytes = this.bytesAt(c, i, seq);
    this.kill(c, i, seq);
    return bytes;
  }

  /** Takes message `seq` out whatever its queues; returns the bytes of its entry, or -1 if it was not live. */
  removeAll(seq: number): number {
    const s = this.slot(seq);
    if (!s) return -1;
    const c = this.own(s[0]);
    const bytes = this.bytesAt(c, s[1], seq);
    this.kill(c, s[1], seq);
    return bytes;
  }

  location(seq: number): { seg: number; at: number; len: number } | undefined {
    const s = this.slot(seq);
    if (!s) return undefined;
    const [c, i] = s;
    return { seg: c.segAt(i), at: c.atAt(i), len: c.lenAt(i, seq) };
  }

  /** Segment and body position of message `seq` (compaction checks it still holds the copy it read). */
  isAt(seq: number, seg: number, at: number): boolean {
    const s = this.slot(seq);
    return s !== null && s[0].segAt(s[1]) === seg && s[0].atAt(s[1]) === at;
  }

  /** Every live message in seq order (fresh objects: for recovery and snapshots, not hot paths). */
  *entries(): Generator<TableMessage> {
    const keys = [...this.chunks.keys()].sort((a, b) => a - b);
    for (const key of keys) {
      const c = this.chunks.get(key);
      if (!c) continue;
      for (let i = 0; i < c.n; i++) {
        const q = c.queueAt(i);
        if (q === DEAD) continue;
        const seq = c.base + c.offAt(i);
        const summary: MessageSummary = { size: c.sizeAt(i, seq) };
        const prio = c.prioAt(i);
        if (prio !== NO_PRIORITY) summary.priority = prio;
        const expiry = c.expiries?.get(seq);
        if (expiry !== undefined) summary.expiry = expiry;
        yield {
          seq, seg: c.segAt(i), at: c.atAt(i), len: c.lenAt(i, seq), bytes: this.bytesAt(c, i, seq),
          queues: q === MULTI ? [...c.fanout!.get(seq)!.queues] : [q - QUEUE_BASE], summary,
        };
      }
    }
  }

  /**
   * Calls `fn` for every live message in seq order and each of its queues, reading the columns in
   * place (recovery of a deep backlog: nothing allocated per message in one queue).
   */
  forEach(fn: (seq: number, queue: number, size: number, priority: number | undefined, expiry: number | undefined) => void): void {
    const keys = [...this.chunks.keys()].sort((a, b) => a - b);
    let scratch: WalkColumns | undefined;
    for (const key of keys) {
      const c = this.chunks.get(key)!;
      const expiries = c.expiries;
      const { off, queue, size: sizes, prio: prios } = c.packed ? c.decodeInto((scratch ??= walkColumns())) : c;
      for (let i = 0; i < c.n; i++) {
        const q = queue[i];
        if (q === DEAD) continue;
        const seq = c.base + off[i];
        const p = prios[i];
        const prio = p === NO_PRIORITY ? undefined : p;
        const expiry = expiries ? expiries.get(seq) : undefined;
        const size = unescaped(sizes[i], c.longSize, seq);
        if (q !== MULTI) fn(seq, q - QUEUE_BASE, size, prio, expiry);
        else for (const fq of c.fanout!.get(seq)!.queues) fn(seq, fq, size, prio, expiry);
      }
    }
  }

  /**
   * The table as it stands, for an index snapshot written in the background: its chunks, marked
   * shared so that later changes go to copies (copy-on-write). Costs one step per chunk. Give it
   * back with release() once written.
   */
  capture(): TableCapture {
    let newest = -1;
    for (const key of this.chunks.keys()) newest = Math.max(newest, key);
    this.freezeCold(newest);
    const chunks = [...this.chunks.values()].sort((a, b) => a.base - b.base);
    for (const c of chunks) c.shared = true;
    return { chunks };
  }

  /** The snapshot is written (or abandoned): its chunks may change in place again. */
  release(capture: TableCapture): void {
    for (const c of capture.chunks) c.shared = false;
  }

  /**
   * Writes a captured table (index snapshot, journal-snapshot.ts), yielding after each chunk so that
   * the caller can write what is encoded and let the event loop run.
   */
  static *encode(capture: TableCapture, w: SnapshotWriter): Generator<void> {
    w.u32(capture.chunks.length);
    let fanouts = 0;
    let expiries = 0;
    let longLens = 0;
    let longSizes = 0;
    for (const shared of capture.chunks) {
      let c = shared;
      w.f64(Math.floor(c.base / SPAN));
      if (c.packed) {
        // As it is in memory: the packed columns and the dead slots' bits.
        w.u8(PACKED_CHUNK);
        writeHead(w, c);
        for (const name of PACKED_NAMES) writePacked(w, c.packed[name]);
        w.column(c.dead!, c.dead!.length);
      } else {
        // Dead slots are left out (the reader takes every slot for live): squeezed in a copy, the captured chunk stays as it was.
        if (c.live !== c.n) {
          c = shared.clone();
          c.squeeze();
        }
        w.u8(PLAIN_CHUNK);
        writeHead(w, c);
        for (const col of c.columns()) w.column(col, c.n);
      }
      fanouts += c.fanout?.size ?? 0;
      expiries += c.expiries?.size ?? 0;
      longLens += c.longLen?.size ?? 0;
      longSizes += c.longSize?.size ?? 0;
      yield;
    }
    w.u32(fanouts);
    for (const c of capture.chunks) {
      if (c.fanout) {
        for (const [seq, f] of c.fanout) {
          w.f64(seq);
          w.u32(f.bytes);
          w.u32(f.queues.length);
          for (const q of f.queues) w.u32(q);
        }
        yield;
      }
    }
    w.u32(expiries);
    for (const c of capture.chunks) {
      if (c.expiries) {
        for (const [seq, expiry] of c.expiries) {
          w.f64(seq);
          w.f64(expiry);
        }
        yield;
      }
    }
    w.u32(longLens);
    for (const c of capture.chunks) {
      for (const [seq, len] of c.longLen ?? []) {
        w.f64(seq);
        w.f64(len);
      }
    }
    w.u32(longSizes);
    for (const c of capture.chunks) {
      for (const [seq, size] of c.longSize ?? []) {
        w.f64(seq);
        w.f64(size);
      }
    }
  }

  /** Reads what encode() wrote into an empty table (`version` 2: every chunk plain, no kind byte). */
  readFrom(r: SnapshotReader, version = SNAPSHOT_VERSION): void {
    for (let k = r.u32(); k > 0; k--) {
      const key = r.f64();
      const kind = version >= 3 ? r.u8() : PLAIN_CHUNK;
      const n = r.u32();
      if (n === 0 || n > SPAN) throw new RangeError('index snapshot: bad chunk');
      let cap = FIRST_CAPACITY;
      while (cap < n) cap *= 2;
      const width = r.u8();
      if (width !== 2 && width !== 4) throw new RangeError('index snapshot: bad queue column');
      const c = new Chunk(key * SPAN, kind === PACKED_CHUNK ? 0 : cap, width === 4);
      for (let k = r.u32(); k > 0; k--) c.segs.push(r.f64());
      c.n = n;
      if (kind === PACKED_CHUNK) {
        const packed = {} as PackedColumns;
        for (const name of PACKED_NAMES) {
          packed[name] = readPacked(r);
          if (packed[name].length !== n) throw new RangeError('index snapshot: bad packed column');
        }
        c.packed = packed;
        c.dead = r.column(new Uint8Array(bitsetBytes(n)), bitsetBytes(n));
        c.live = n - countBits(c.dead, n);
        if (c.live === 0) throw new RangeError('index snapshot: an empty chunk');
      } else if (kind === PLAIN_CHUNK) {
        for (const col of c.columns()) r.column(col, n);
        for (let i = 0; i < n; i++) if (c.seg[i] >= c.segs.length) throw new RangeError('index snapshot: bad segment index');
        c.live = n;
      } else throw new RangeError('index snapshot: bad chunk kind');
      this.count += c.live;
      this.chunks.set(key, c);
      this.freezeCold(key);
    }
    const chunkOf = (seq: number): Chunk => {
      const c = this.chunks.get(Math.floor(seq / SPAN));
      if (!c) throw new RangeError('index snapshot: a fan-out or expiry of no message');
      return c;
    };
    for (let k = r.u32(); k > 0; k--) {
      const seq = r.f64();
      const bytes = r.u32();
      const queues: number[] = [];
      for (let q = r.u32(); q > 0; q--) queues.push(r.u32());
      (chunkOf(seq).fanout ??= new Map()).set(seq, { queues, bytes });
    }
    for (let k = r.u32(); k > 0; k--) {
      const seq = r.f64();
      (chunkOf(seq).expiries ??= new Map()).set(seq, r.f64());
    }
    for (let k = r.u32(); k > 0; k--) {
      const seq = r.f64();
      (chunkOf(seq).longLen ??= new Map()).set(seq, r.f64());
    }
    for (let k = r.u32(); k > 0; k--) {
      const seq = r.f64();
      (chunkOf(seq).longSize ??= new Map()).set(seq, r.f64());
    }
  }

  /**
   * Freezes the plain chunks the newest seqs have moved past: those below `newest - 1` (the chunk
   * before the newest may still get a late seq). Not those a snapshot being written holds.
   */
  private freezeCold(newest: number): void {
    for (const [key, c] of this.chunks) {
      if (key < newest - 1 && !c.packed && !c.shared && c.live >= MIN_FREEZE) c.freeze();
    }
  }

  private bytesAt(c: Chunk, i: number, seq: number): number {
    return c.queueAt(i) === MULTI ? c.fanout!.get(seq)!.bytes : ENQUEUE_FIXED + 4 + c.lenAt(i, seq);
  }

  /** Takes slot `i` of `c` (a chunk the table owns: not shared) out. */
  private kill(c: Chunk, i: number, seq: number): void {
    this.removedSeg = c.segAt(i);
    c.setDead(i);
    c.live--;
    this.count--;
    c.fanout?.delete(seq);
    c.expiries?.delete(seq);
    c.longLen?.delete(seq);
    c.longSize?.delete(seq);
    if (c.live === 0) this.chunks.delete(Math.floor(c.base / SPAN));
    else if (c.n >= FIRST_CAPACITY && c.live * 2 < c.n) {
      if (c.packed) c.thaw();
      else c.squeeze();
    }
  }
}
