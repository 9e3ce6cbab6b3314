/**
 * The broker-wide bound on memory held for consumers (`limits.outboundMemoryBytes`).
 *
 * Each queue bounds itself (maxLength / maxBytes, an MQTT session's maxQueuedBytes), and durable
 * bodies page to disk (queue-memory.ts), but many subscribers that do not read, each within its
 * own bound, could still hold more than the machine has. This counts the bodies queues hold in
 * memory that cannot page (non-durable messages or queues, a memory store, a transaction's
 * messages), per queue and in all, from enqueue until the entry leaves the broker (acknowledged,
 * dropped, expired, dead-lettered, its queue deleted). A body routed to several queues counts
 * once per queue: the bound errs on the safe side.
 *
 * Past the bound, a publish into a queue that holds at least HOLDER_MIN_BYTES waits (its
 * acknowledgement with it, so each protocol's own flow control holds the publisher back) until
 * the total falls below LOW_WATER of the bound or that queue below half of HOLDER_MIN_BYTES.
 * A queue whose consumers keep up holds almost nothing, so publishing to it goes on: only the
 * publishers feeding the queues that grow are held. Nothing is dropped or refused. Logged once
 * per episode (warn on the way up, naming the largest queues; info on the way down).
 */
import type { Logger } from './adapter.js';
import type { OutboundHolder, QueueEntry } from './queue-types.js';

/** A queue holding less than this is never held back (its consumers are keeping up). */
export const HOLDER_MIN_BYTES = 64 * 1024;
/** Fraction of the bound under which every held publisher resumes. */
const LOW_WATER = 0.8;

export class OutboundMemory {
  /** Bytes of unpageable queued bodies held in memory now. */
  heldBytes = 0;
  /** Publishes that had to wait since start. */
  heldBack = 0;
  /** Past the bound and not yet back under its low-water mark. */
  private over = false;
  private readonly holders = new Set<OutboundHolder>();
  private readonly waiters = new Map<OutboundHolder, Array<() => void>>();

  /** `limitBytes` <= 0: counted, never held back. */
  constructor(readonly limitBytes: number, private readonly log?: Logger) {}

  get pressure(): boolean {
    return this.over;
  }

  /** An entry went into `holder`; counted unless its body can page. */
  admit(holder: OutboundHolder, entry: QueueEntry): void {
    if (entry.pageable || entry.heldBy !== undefined) return;
    entry.heldBy = holder;
    holder.outboundBytes += entry.size;
    this.heldBytes += entry.size;
    this.holders.add(holder);
    if (!this.over && this.limitBytes > 0 && this.heldBytes > this.limitBytes) {
      this.over = true;
      this.log?.warn({ heldBytes: this.heldBytes, limit: this.limitBytes, largest: this.largest(3) },
        'outbound memory over limits.outboundMemoryBytes: publishers to the largest queues wait until their consumers read');
    }
  }

  /** The entry left its queue for good (idempotent). */
  released(entry: QueueEntry): void {
    const h = entry.heldBy;
    if (h === undefined) return;
    entry.heldBy = undefined;
    h.outboundBytes -= entry.size;
    this.heldBytes -= entry.size;
    if (h.outboundBytes <= 0) {
      h.outboundBytes = 0;
      this.holders.delete(h);
    }
    if (this.over && this.heldBytes <= this.limitBytes * LOW_WATER) {
      this.over = false;
      this.log?.info({ heldBytes: this.heldBytes, limit: this.limitBytes }, 'outbound memory back under limits.outboundMemoryBytes: held publishers resume');
      for (const list of this.waiters.values()) for (const w of list) w();
      this.waiters.clear();
    } else if (h.outboundBytes < HOLDER_MIN_BYTES / 2) {
      const list = this.waiters.get(h);
      if (list) {
        this.waiters.delete(h);
        for (const w of list) w();
      }
    }
  }

  /** Undefined when a publish into `holder` may go on now; else a promise that resolves when it may. */
  whenRoom(holder: OutboundHolder): Promise<void> | undefined {
    if (!this.over || holder.outboundBytes < HOLDER_MIN_BYTES) return undefined;
    this.heldBack++;
    return new Promise((resolve) => {
      const list = this.waiters.get(holder);
      if (list) list.push(resolve);
      else this.waiters.set(holder, [resolve]);
    });
  }

  /** The `n` queues holding the most, for the log. */
  largest(n: number): Array<{ queue: string; bytes: number }> {
    const top: OutboundHolder[] = [];
    for (const h of this.holders) {
      if (top.length < n || h.outboundBytes > top[top.length - 1].outboundBytes) {
        top.push(h);
        top.sort((a, b) => b.outboundBytes - a.outboundBytes);
        if (top.length > n) top.pop();
      }
    }
    return top.map((h) => ({ queue: h.name, bytes: h.outboundBytes }));
  }
}
