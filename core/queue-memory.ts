/**
 * The memory budget of queued message bodies (`queues.memoryBytes`): deep queues page to disk.
 *
 * A durable message in a durable queue is journaled anyway (core/storage/journal.ts), so its body
 * need not stay in memory too. While the bodies held by queue entries fit the budget, a new one is
 * kept; past it, the entry keeps only its index fields (seq, size, priority, expiry, delivery
 * state: QueueEntry) and drops its body once the journal has it. A queue reads bodies back in
 * delivery order, a bounded batch ahead of its consumers (Queue.readAhead); browsers, the admin
 * API and dead-lettering read a copy without keeping it. Order, priorities, TTL and bounds work on
 * the index fields, so they hold for paged messages too.
 *
 * Accounting: `heldBytes` counts, per queue entry, the size of each pageable body in memory
 * (ready, parked or delivered and unacknowledged) plus HELD_OVERHEAD for the objects that hold it
 * (entry, message, buffer), so that the budget is close to the memory it costs even for small
 * messages; a body shared by several queues counts once per queue. A body kept in memory is
 * copied out of the buffer the adapter sliced it from (held-bodies.ts). Bodies that cannot page (non-durable messages or queues, a cluster's shared queues,
 * a store without readMessages) are bounded by the queues' own maxLength / maxBytes instead.
 */
import { holdCopy } from './held-bodies.js';
import { decodeMessage } from './message-codec.js';
import type { Message } from './message.js';
import type { QueueEntry } from './queue-types.js';

export type ReadBodies = (seqs: number[]) => Promise<Array<Buffer | undefined>>;

/**
 * A queue's read-ahead batch: 512 messages (1 MiB) while the budget has room; 32 (64 KiB) once it
 * is spent, so thousands of queues draining at once (MQTT sessions coming back) stay near the
 * budget instead of each holding a full batch.
 */
const READ_AHEAD = { count: 512, bytes: 1024 * 1024 };
const READ_AHEAD_OVER_BUDGET = { count: 32, bytes: 64 * 1024 };

/**
 * What a held body costs besides its size: its queue entry, message object, buffer object and
 * index (measured in process: about 400 bytes for a 100-byte message, once its body is a copy
 * that keeps nothing else alive: held-bodies.ts).
 */
export const HELD_OVERHEAD = 384;

/** Bytes an entry's body counts against the budget while it is held. */
const held = (entry: QueueEntry): number => entry.size + HELD_OVERHEAD;

export class QueueMemory {
  /** Bytes of pageable bodies held by queue entries now. */
  heldBytes = 0;
  /** Entries whose body is on disk only now. */
  pagedMessages = 0;
  /** Since start: bodies dropped from memory, and read back (read-ahead, browsing, dead-lettering). */
  pagedOut = 0;
  pagedIn = 0;

  /** `read` undefined: the store cannot read bodies back, nothing pages. */
  constructor(readonly budgetBytes: number, private readonly read: ReadBodies | undefined) {}

  /** How much a queue reads ahead of its consumers now. */
  readAheadLimit(): { count: number; bytes: number } {
    return this.heldBytes < this.budgetBytes ? READ_AHEAD : READ_AHEAD_OVER_BUDGET;
  }

  /** Messages can page (the store reads bodies back). */
  get enabled(): boolean {
    return this.read !== undefined;
  }

  /**
   * A pageable entry arrives with its body. Returns true when the budget is spent: the caller
   * pages it out (pageOut) once the journal has stored it.
   */
  admit(entry: QueueEntry): boolean {
    this.heldBytes += held(entry);
    if (this.heldBytes > this.budgetBytes) return true;
    // Kept: its body must not keep the buffer it was sliced from alive (held-bodies.ts).
    if (entry.message) entry.message.payload = holdCopy(entry.message.payload);
    return false;
  }

  /** A recovered entry without its body. */
  addPaged(): void {
    this.pagedMessages++;
  }

  /**
   * Drops the entry's body: it is in the journal (true if it did). Not once it was delivered: a delivered entry
   * (unacked, or given back) keeps its body, so settling it (reject, a transaction) never waits on disk.
   */
  pageOut(entry: QueueEntry): boolean {
    if (!entry.pageable || entry.message === undefined || entry.redelivered) return false;
    entry.message = undefined;
    this.heldBytes -= held(entry);
    this.pagedMessages++;
    this.pagedOut++;
    return true;
  }

  /** The entry left the broker (acked, expired, dropped, dead-lettered, its queue deleted). Idempotent. */
  released(entry: QueueEntry): void {
    if (!entry.pageable) return;
    entry.pageable = false;
    if (entry.message !== undefined) this.heldBytes -= held(entry);
    else this.pagedMessages--;
  }

  /**
   * Reads the bodies of paged entries back into them (read-ahead). Returns the entries whose body
   * the journal no longer has (they cannot be delivered; the queue drops them).
   */
  async load(entries: QueueEntry[]): Promise<QueueEntry[]> {
    const messages = await this.readCopies(entries);
    const missing: QueueEntry[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      const m = messages[i];
      if (!e.pageable || e.message !== undefined) continue; // gone or loaded meanwhile
      if (m === undefined) {
        missing.push(e);
        continue;
      }
      e.message = m;
      this.heldBytes += held(e);
      this.pagedMessages--;
    }
    return missing;
  }

  /** The messages of entries (paged or not) without attaching them: browsing, the admin API, dead-lettering. */
  async readCopies(entries: QueueEntry[]): Promise<Array<Message | undefined>> {
    const out: Array<Message | undefined> = entries.map((e) => e.message);
    const paged = entries.map((e, i) => (e.message === undefined ? i : -1)).filter((i) => i >= 0);
    if (paged.length === 0) return out;
    if (!this.read) throw new Error('queue messages are paged out but the store cannot read them back');
    const bodies = await this.read(paged.map((i) => entries[i].seq));
    for (let k = 0; k < paged.length; k++) {
      const body = bodies[k];
      if (body === undefined) continue;
      const e = entries[paged[k]];
      const m = decodeMessage(body);
      // The queue's TTL applies to the expiry kept in the entry, not to the stored message.
      if (e.expiry !== m.expiry && e.expiry !== undefined) m.expiry = e.expiry;
      out[paged[k]] = m;
      this.pagedIn++;
    }
    return out;
  }
}
