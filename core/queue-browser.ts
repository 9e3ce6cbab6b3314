/**
 * A browser of a queue: it sees the messages that were ready when it started, in delivery order
 * (priority, then FIFO), and takes none of them. It paces like a consumer (link credit, a
 * prefetch-free socket pause), so an adapter drives it as it drives a Consumer; deliveries are
 * settled on send (there is nothing to acknowledge). STOMP `browser:true`, AMQP
 * `distribution-mode: copy`.
 */
import type { Message } from './message.js';
import type { Queue } from './queue.js';
import type { Delivery, QueueEntry } from './queue-types.js';

export type BrowseFn = (delivery: Delivery, browser: QueueBrowser) => void;

export interface BrowseOptions {
  /** AMQP-style link credit: deliveries consume credit given by addCredit()/setCredit(). */
  creditMode: boolean;
  /** Connection id, checked against exclusive queues. */
  owner?: string;
  /** Only messages this accepts are shown (a JMS selector). */
  selector?: (message: Message) => boolean;
}

const RESOLVED = Promise.resolve();
/** Paged-out messages of the snapshot read back at once, ahead of the browser's pace. */
const READ_AHEAD = 128;
const READ_RETRY_MS = 1000;

export class QueueBrowser {
  private pos = 0;
  private nextTag = 1;
  private credit = 0;
  private paused = false;
  private pumping = false;
  private ended = false;
  /** Messages of paged-out entries read back for this browser only (null: consumed meanwhile, skipped). */
  private readonly copies = new Map<QueueEntry, Message | null>();
  private reading = false;
  /** A drain waiting for paged-out messages of the snapshot to be read. */
  private drainDone: (() => void) | null = null;
  closed = false;
  /** The queue was deleted under the browser. */
  onCancel?: () => void;
  /** Every message of the snapshot has been handed over (STOMP sends its `browser:end` then). */
  onEnd?: () => void;

  constructor(
    readonly queue: Queue,
    private readonly entries: QueueEntry[],
    readonly options: BrowseOptions,
    private readonly deliver: BrowseFn,
  ) {}

  get availableCredit(): number {
    return this.credit;
  }

  /** Messages of the snapshot not handed over yet. */
  get remaining(): number {
    return this.entries.length - this.pos;
  }

  /** Hands over what the pace allows; call once the adapter is ready to send. */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const now = Date.now();
      while (!this.closed && !this.paused && this.pos < this.entries.length && (!this.options.creditMode || this.credit > 0)) {
        const entry = this.entries[this.pos];
        const m = entry.message ?? this.copies.get(entry);
        if (m === undefined) {
          this.readAhead(); // paged out: the browse goes on once it is read back
          break;
        }
        this.copies.delete(entry);
        // Release the reference: a long browse must not pin messages consumed meanwhile.
        this.entries[this.pos++] = undefined as unknown as QueueEntry;
        if (m === null) continue;
        if (entry.expiry !== undefined && entry.expiry <= now) continue;
        if (this.options.selector && !this.options.selector(m)) continue;
        if (this.options.creditMode) this.credit--;
        this.deliver({
          tag: this.nextTag++, message: m, deliveryCount: entry.deliveryCount, redelivered: entry.redelivered,
          queue: this.queue.name, seq: entry.seq,
        }, this);
      }
    } finally {
      this.pumping = false;
    }
    if (!this.closed && !this.ended && this.pos >= this.entries.length) {
      this.ended = true;
      this.onEnd?.();
    }
  }

  /** Reads the next paged-out messages of the snapshot (READ_AHEAD at most), then pumps again. */
  private readAhead(): void {
    const read = this.queue.host.read;
    if (this.reading || !read) return;
    const batch: QueueEntry[] = [];
    for (let i = this.pos; i < this.entries.length && batch.length < READ_AHEAD; i++) {
      const e = this.entries[i];
      if (e.message === undefined && !this.copies.has(e)) batch.push(e);
    }
    if (batch.length === 0) return;
    this.reading = true;
    read(batch).then((messages) => {
      this.reading = false;
      if (this.closed) return;
      for (let i = 0; i < batch.length; i++) this.copies.set(batch[i], messages[i] ?? null);
      this.pump();
      this.continueDrain();
    }, () => {
      setTimeout(() => {
        this.reading = false;
        if (this.closed) return;
        this.pump();
        this.continueDrain();
      }, READ_RETRY_MS).unref();
    });
  }

  addCredit(n: number): void {
    this.credit += n;
    this.pump();
  }

  setCredit(n: number): void {
    this.credit = n;
    this.pump();
  }

  /** AMQP drain: hand over what is left within the credit (waiting for paged-out ones to be read), then give up the rest. */
  drain(done?: () => void): number {
    this.pump();
    if (this.credit > 0 && this.reading) {
      this.drainDone = done ?? (() => undefined);
      return 0;
    }
    const left = this.credit;
    this.credit = 0;
    return left;
  }

  get drainPending(): boolean {
    return this.drainDone !== null;
  }

  private continueDrain(): void {
    const done = this.drainDone;
    if (!done || (this.credit > 0 && this.reading)) return;
    this.drainDone = null;
    this.credit = 0;
    done();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.pump();
  }

  /** Browsed messages are not taken: settling them changes nothing. */
  ack(_tag: number): Promise<void> {
    return RESOLVED;
  }

  nack(_tag: number, _options?: unknown): Promise<void> {
    return RESOLVED;
  }

  reject(_tag: number): Promise<void> {
    return RESOLVED;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.entries.length = 0;
    this.copies.clear();
    this.drainDone = null;
    this.queue.stopBrowsing(this);
  }

  /** @internal the queue was deleted. */
  cancel(): void {
    this.close();
    this.onCancel?.();
  }
}
