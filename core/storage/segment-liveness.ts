/**
 * Which live journal records sit in which segment: for every live metadata key and unacked message,
 * the segment and record position of the entry that currently defines it, and per segment the bytes
 * of such entries. Compaction reads this to decide what to copy and when a segment can go.
 *
 * Values are not kept here: compaction re-reads them from the segment it copies, and a paged queue
 * reads a message back from the position kept here (core/storage/journal.ts readMessages), so
 * memory stays a few dozen bytes per live record.
 */
import type { JournalEntry } from '../store.js';

interface Location {
  seg: number;
  /** Position of the record (one journal group) holding the defining entry. */
  pos: number;
  bytes: number;
}

interface MessageLocation extends Location {
  /** Queues the message is still in: one id (the usual case, saving an array per message) or several. */
  queues: number | number[];
  /** File position of the message bytes inside the record, and their length: a paged queue reads them back. */
  at: number;
  len: number;
}

/** Where a live message's bytes are: segment id, file position, length. */
export interface BodyLocation {
  seg: number;
  at: number;
  len: number;
}

export class LiveRecordIndex {
  private readonly keys = new Map<string, Map<string, Location>>();
  private readonly messages = new Map<number, MessageLocation>();
  /**
   * Delivery counts of live messages that were delivered, as [queue, count, queue, count...]: a
   * map of its own, so that the many messages never delivered pay nothing for it.
   */
  private readonly counts = new Map<number, number[]>();
  /** Live bytes per segment (an object each: one map lookup per change). */
  private readonly bytesBySegment = new Map<number, { bytes: number }>();
  private total = 0;

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
        // A second enqueue of a seq (a compaction copy) replaces the queue list.
        const old = this.messages.get(e.seq);
        if (old) this.drop(old);
        if (e.queues.length === 0) {
          this.messages.delete(e.seq);
          this.counts.delete(e.seq);
          return 'gone';
        }
        const queues = e.queues.length === 1 ? e.queues[0] : [...e.queues];
        this.messages.set(e.seq, this.add({ seg, pos, bytes, queues, at, len: e.message.length }));
        return old ? 'moved' : undefined;
      }
      case 'ack': {
        const m = this.messages.get(e.seq);
        if (!m) return undefined;
        const i = indexOfQueue(m.queues, e.queue);
        if (i < 0) return undefined;
        if (typeof m.queues !== 'number') {
          m.queues.splice(i, 1);
          if (m.queues.length > 0) {
            this.forgetCount(e.seq, e.queue);
            return undefined;
          }
        }
        this.drop(m);
        this.messages.delete(e.seq);
        this.counts.delete(e.seq);
        return 'gone';
      }
      case 'deliver': {
        // Not live bytes itself: compaction carries the count with the message's copy.
        const m = this.messages.get(e.seq);
        if (!m || indexOfQueue(m.queues, e.queue) < 0) return undefined;
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

  /** Remaining queues of message `seq` if the enqueue in the record at (seg, pos) is its current one. */
  currentQueues(seq: number, seg: number, pos: number): number[] | null {
    const loc = this.messages.get(seq);
    return loc !== undefined && loc.seg === seg && loc.pos === pos ? queueList(loc.queues) : null;
  }

  /** Where message `seq`'s bytes are now (a compaction copy moves them: always look them up here). */
  bodyLocation(seq: number): BodyLocation | undefined {
    return this.messages.get(seq);
  }

  /** Messages not yet acked from every queue. */
  get messageCount(): number {
    return this.messages.size;
  }

  /** Delivery counts of message `seq` aligned with its queues, if it was ever delivered. */
  deliveryCounts(seq: number): number[] | undefined {
    const pairs = this.counts.get(seq);
    const loc = pairs && this.messages.get(seq);
    if (!loc) return undefined;
    return queueList(loc.queues).map((q) => {
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
    const loc = this.messages.get(seq);
    return loc && queueList(loc.queues);
  }

  forgetSegment(seg: number): void {
    this.bytesBySegment.delete(seg);
  }

  private add<T extends Location>(loc: T): T {
    const s = this.bytesBySegment.get(loc.seg);
    if (s) s.bytes += loc.bytes;
    else this.bytesBySegment.set(loc.seg, { bytes: loc.bytes });
    this.total += loc.bytes;
    return loc;
  }

  private drop(loc: Location): void {
    const s = this.bytesBySegment.get(loc.seg);
    if (s) s.bytes -= loc.bytes;
    else this.bytesBySegment.set(loc.seg, { bytes: -loc.bytes });
    this.total -= loc.bytes;
  }
}

/** A fresh array of the queue ids. */
function queueList(queues: number | number[]): number[] {
  return typeof queues === 'number' ? [queues] : [...queues];
}

function indexOfQueue(queues: number | number[], queue: number): number {
  return typeof queues === 'number' ? (queues === queue ? 0 : -1) : queues.indexOf(queue);
}
