/**
 * Which live journal records sit in which segment: for every live metadata key and unacked message,
 * the segment and record position of the entry that currently defines it, and per segment the bytes
 * of such entries. Compaction reads this to decide what to copy and when a segment can go.
 *
 * Values are not kept here: compaction re-reads them from the segment it copies, and a paged queue
 * reads a message back from the position kept here (core/storage/journal.ts readMessages), so
 * memory stays a few dozen bytes per live record.
 */
import type { JournalEntry, MessageSummary } from '../store.js';
import { MessageTable, type TableCapture, type TableMessage } from './message-table.js';
import { SNAPSHOT_VERSION, type SnapshotReader, type SnapshotWriter } from './snapshot-codec.js';

interface Location {
  seg: number;
  /** Position of the record (one journal group) holding the defining entry. */
  pos: number;
  bytes: number;
}

/**
 * The index as it stood at one moment, for a snapshot written in the background: the message table
 * copy-on-write (message-table.ts), the rest (metadata key locations, delivery counts, live bytes
 * per segment: small next to the messages) copied.
 */
export interface IndexCapture {
  keys: Array<{ ns: string; key: string; seg: number; pos: number; bytes: number }>;
  table: TableCapture;
  counts: Array<[number, number[]]>;
  bytesBySegment: Array<[number, number]>;
  total: number;
}

/** Where a live message's bytes are: segment id, file position, length. */
export interface BodyLocation {
  seg: number;
  at: number;
  len: number;
}

export class LiveRecordIndex {
  private readonly keys = new Map<string, Map<string, Location>>();
  /** Queued messages, packed (message-table.ts): no object per message. */
  private readonly messages = new MessageTable();
  /**
   * Delivery counts of live messages that were delivered, as [queue, count, queue, count...]: a
   * map of its own, so that the many messages never delivered pay nothing for it.
   */
  private readonly counts = new Map<number, number[]>();
  /** Live bytes per segment (an object each: one map lookup per change). */
  private readonly bytesBySegment = new Map<number, { bytes: number }>();
  private total = 0;

  /** With `summarize`, each enqueue keeps its summary (size, priority, expiry) for recovery and snapshots. */
  constructor(private readonly summarize?: (message: Buffer) => MessageSummary) {}

  /** Live bytes over all segments. */
  get liveBytes(): number {
    return this.total;
  }

  liveIn(seg: number): number {
    return this.bytesBySegment.get(seg)?.bytes ?? 0;
  }

  /**
   * Applies one entry written at (seg, pos). Returns what changed for the recovered state:
   * 'gone' when a message left its last queue (or an enqueue had none), 'moved' when an enqueue
   * replaced a live one (a compaction copy: same bytes elsewhere).
   */
  apply(e: JournalEntry, bytes: number, seg: number, pos: number, at = -1): 'gone' | 'moved' | undefined {
    switch (e.kind) {
      case 'put': {
        let ns = this.keys.get(e.ns);
        if (!ns) this.keys.set(e.ns, (ns = new Map()));
        const old = ns.get(e.key);
        if (old) this.drop(old);
        ns.set(e.key, this.add({ seg, pos, bytes }));
        return undefined;
      }
      case 'del': {
        const ns = this.keys.get(e.ns);
        const old = ns?.get(e.key);
        if (!old) return undefined;
        this.drop(old);
        ns!.delete(e.key);
        if (ns!.size === 0) this.keys.delete(e.ns);
        return undefined;
      }
      case 'enqueue': {
        // A second enqueue of a seq (a compaction copy) replaces the queue list and the location.
        if (e.queues.length === 0) {
          const gone = this.messages.removeAll(e.seq);
          if (gone >= 0) this.sub(this.messages.removedSeg, gone);
          this.counts.delete(e.seq);
          return 'gone';
        }
        const had = this.messages.has(e.seq);
        const oldSeg = had ? this.messages.location(e.seq)!.seg : -1;
        const summary = had || !this.summarize ? undefined : this.summarize(e.message);
        const old = this.messages.set(e.seq, seg, at, e.message.length, e.queues, summary);
        if (old >= 0) this.sub(oldSeg, old);
        this.addBytes(seg, bytes);
        return old >= 0 ? 'moved' : undefined;
      }
      case 'ack': {
        const gone = this.messages.removeQueue(e.seq, e.queue);
        if (gone < 0) return undefined;
        if (gone === 0) {
          this.forgetCount(e.seq, e.queue);
          return undefined;
        }
        this.sub(this.messages.removedSeg, gone);
        this.counts.delete(e.seq);
        return 'gone';
      }
      case 'deliver': {
        // Not live bytes itself: compaction carries the count with the message's copy.
        if (!this.messages.inQueue(e.seq, e.queue)) return undefined;
        const pairs = this.counts.get(e.seq);
        if (!pairs) {
          this.counts.set(e.seq, [e.queue, e.count]);
          return undefined;
        }
        for (let k = 0; k < pairs.length; k += 2) {
          if (pairs[k] === e.queue) {
            pairs[k + 1] = e.count;
            return undefined;
          }
        }
        pairs.push(e.queue, e.count);
        return undefined;
      }
    }
  }

  /** True if the put of `ns`/`key` in the record at (seg, pos) holds the key's current value. */
  isCurrentPut(ns: string, key: string, seg: number, pos: number): boolean {
    const loc = this.keys.get(ns)?.get(key);
    return loc !== undefined && loc.seg === seg && loc.pos === pos;
  }

  /** Remaining queues of message `seq` if its body at (seg, at) is its current copy. */
  currentQueues(seq: number, seg: number, at: number): number[] | null {
    return this.messages.isAt(seq, seg, at) ? this.messages.queues(seq)! : null;
  }

  /** Where message `seq`'s bytes are now (a compaction copy moves them: always look them up here). */
  bodyLocation(seq: number): BodyLocation | undefined {
    return this.messages.location(seq);
  }

  /** Every live message and queue in seq order with its summary and delivery count there (recovery, no allocation per message). */
  eachMessage(fn: (seq: number, queue: number, size: number, priority: number | undefined, expiry: number | undefined, deliveryCount: number) => void): void {
    const counts = this.counts;
    this.messages.forEach((seq, queue, size, priority, expiry) => {
      let count = 0;
      if (counts.size > 0) {
        const pairs = counts.get(seq);
        if (pairs) for (let k = 0; k < pairs.length; k += 2) if (pairs[k] === queue) count = pairs[k + 1];
      }
      fn(seq, queue, size, priority, expiry, count);
    });
  }

  liveMessages(): Generator<TableMessage> {
    return this.messages.entries();
  }

  /** Messages not yet acked from every queue. */
  get messageCount(): number {
    return this.messages.size;
  }

  /** Delivery counts of message `seq` aligned with its queues, if it was ever delivered. */
  deliveryCounts(seq: number): number[] | undefined {
    const pairs = this.counts.get(seq);
    const queues = pairs && this.messages.queues(seq);
    if (!queues) return undefined;
    return queues.map((q) => {
      for (let k = 0; k < pairs!.length; k += 2) if (pairs![k] === q) return pairs![k + 1];
      return 0;
    });
  }

  private forgetCount(seq: number, queue: number): void {
    const pairs = this.counts.get(seq);
    if (!pairs) return;
    for (let k = 0; k < pairs.length; k += 2) {
      if (pairs[k] !== queue) continue;
      pairs.splice(k, 2);
      if (pairs.length === 0) this.counts.delete(seq);
      return;
    }
  }

  messageQueues(seq: number): number[] | undefined {
    return this.messages.queues(seq);
  }

  forgetSegment(seg: number): void {
    this.bytesBySegment.delete(seg);
  }

  private add<T extends Location>(loc: T): T {
    this.addBytes(loc.seg, loc.bytes);
    return loc;
  }

  private drop(loc: Location): void {
    this.sub(loc.seg, loc.bytes);
  }

  private addBytes(seg: number, bytes: number): void {
    const s = this.bytesBySegment.get(seg);
    if (s) s.bytes += bytes;
    else this.bytesBySegment.set(seg, { bytes });
    this.total += bytes;
  }

  private sub(seg: number, bytes: number): void {
    this.addBytes(seg, -bytes);
  }

  /**
   * The index now, for a snapshot (IndexCapture): in one synchronous step, costing one step per
   * table chunk, metadata key and delivered message. Release it with release() once written.
   */
  capture(): IndexCapture {
    const keys: IndexCapture['keys'] = [];
    for (const [ns, m] of this.keys) for (const [key, loc] of m) keys.push({ ns, key, seg: loc.seg, pos: loc.pos, bytes: loc.bytes });
    return {
      keys,
      table: this.messages.capture(),
      counts: [...this.counts].map(([seq, pairs]) => [seq, [...pairs]]),
      bytesBySegment: [...this.bytesBySegment].map(([seg, s]) => [seg, s.bytes]),
      total: this.total,
    };
  }

  release(capture: IndexCapture): void {
    this.messages.release(capture.table);
  }

  /**
   * Writes a captured index (journal-snapshot.ts), yielding between chunks of work; `valueOf` gives
   * each key's value, which the snapshot carries so that recovery need not read the segments for it.
   */
  static *encode(c: IndexCapture, w: SnapshotWriter, valueOf: (ns: string, key: string) => Buffer): Generator<void> {
    const byNs = new Map<string, IndexCapture['keys']>();
    for (const k of c.keys) {
      let list = byNs.get(k.ns);
      if (!list) byNs.set(k.ns, (list = []));
      list.push(k);
    }
    w.u32(byNs.size);
    for (const [ns, keys] of byNs) {
      w.str(ns);
      w.u32(keys.length);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        w.str(k.key);
        w.f64(k.seg);
        w.f64(k.pos);
        w.u32(k.bytes);
        w.bytes(valueOf(ns, k.key));
        if (i % 4096 === 4095) yield;
      }
    }
    yield* MessageTable.encode(c.table, w);
    w.u32(c.counts.length);
    for (const [seq, pairs] of c.counts) {
      w.f64(seq);
      w.u32(pairs.length);
      for (const v of pairs) w.u32(v);
    }
    w.u32(c.bytesBySegment.length);
    for (const [seg, bytes] of c.bytesBySegment) {
      w.f64(seg);
      w.f64(bytes);
    }
    w.f64(c.total);
  }

  /** Reads what encode() wrote into this (empty) index; the metadata values go to `metadata`; `version`: the snapshot's. */
  readFrom(r: SnapshotReader, metadata: Map<string, Map<string, Buffer>>, version = SNAPSHOT_VERSION): void {
    for (let n = r.u32(); n > 0; n--) {
      const ns = r.str();
      const keys = new Map<string, Location>();
      const values = new Map<string, Buffer>();
      for (let k = r.u32(); k > 0; k--) {
        const key = r.str();
        keys.set(key, { seg: r.f64(), pos: r.f64(), bytes: r.u32() });
        values.set(key, Buffer.from(r.bytes()));
      }
      this.keys.set(ns, keys);
      metadata.set(ns, values);
    }
    this.messages.readFrom(r, version);
    for (let n = r.u32(); n > 0; n--) {
      const seq = r.f64();
      const pairs: number[] = [];
      for (let k = r.u32(); k > 0; k--) pairs.push(r.u32());
      this.counts.set(seq, pairs);
    }
    for (let n = r.u32(); n > 0; n--) {
      const seg = r.f64();
      this.bytesBySegment.set(seg, { bytes: r.f64() });
    }
    this.total = r.f64();
  }
}
