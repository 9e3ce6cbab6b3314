/**
 * Publishes that carried a publisher's idempotency key (`Message.publishId`) and were routed to this
 * node's own queues: a repeat of one (a resend after a failure whose outcome the publisher could not
 * know) is not enqueued here again, and waits for the first attempt's outcome instead. Bounded in
 * count and age: a repeat comes within seconds (the client's reconnect), not minutes.
 */
const MAX_ENTRIES = 65_536;
const MAX_AGE_MS = 120_000;

interface Routed {
  at: number;
  /** Settles when the first attempt's local writes are stored. */
  stored: Promise<void>;
}

export class RecentPublishes {
  private readonly routed = new Map<string, Routed>();

  /** The first attempt's local outcome when `id` was routed here recently; undefined otherwise. */
  get(id: string): Promise<void> | undefined {
    const r = this.routed.get(id);
    if (!r) return undefined;
    if (Date.now() - r.at > MAX_AGE_MS) {
      this.routed.delete(id);
      return undefined;
    }
    return r.stored;
  }

  /** Records a first attempt. A failed one is forgotten, so its repeat is routed again. */
  add(id: string, stored: Promise<void>): void {
    const entry: Routed = { at: Date.now(), stored };
    this.routed.set(id, entry);
    stored.catch(() => { if (this.routed.get(id) === entry) this.routed.delete(id); });
    if (this.routed.size > MAX_ENTRIES) this.evict();
  }

  private evict(): void {
    const old = Date.now() - MAX_AGE_MS;
    for (const [id, r] of this.routed) {
      if (this.routed.size <= MAX_ENTRIES / 2 && r.at >= old) break;
      this.routed.delete(id);
    }
  }
}
