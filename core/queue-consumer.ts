/**
 * One consumer of a queue: capacity by prefetch window and/or link credit, settlement of its
 * deliveries (ack, nack with requeue, reject), pause/resume for socket back-pressure.
 */
import type { Queue } from './queue.js';
import { ConsumerOptions, Delivery, NackOptions, QueueEntry, removeInBackground } from './queue-types.js';

export type DeliverFn = (delivery: Delivery, consumer: Consumer) => void;

const RESOLVED = Promise.resolve();
let nextConsumerId = 1;

export class Consumer {
  readonly id = nextConsumerId++;
  private readonly unacked = new Map<number, QueueEntry>();
  private nextTag = 1;
  private credit = 0;
  private paused = false;
  /** A drain waiting for paged-out messages to be read back (then it delivers them and ends). */
  private drainDone: (() => void) | null = null;
  closed = false;
  /** Called when the queue goes away under the consumer (deleted); adapters end the subscription. */
  onCancel?: () => void;

  constructor(readonly queue: Queue, readonly options: ConsumerOptions, private readonly deliver: DeliverFn) {}

  get unackedCount(): number {
    return this.unacked.size;
  }

  get availableCredit(): number {
    return this.credit;
  }

  hasCapacity(): boolean {
    if (this.paused || this.closed) return false;
    if (this.options.creditMode && this.credit <= 0) return false;
    return this.options.autoAck || this.options.prefetch === 0 || this.unacked.size < this.options.prefetch;
  }

  /** This consumer may take the entry: not one it gave back as undeliverable-here, and its selector matches. */
  accepts(entry: QueueEntry): boolean {
    if (entry.avoid?.has(this.id)) return false;
    const s = this.options.selector;
    if (s === undefined) return true;
    // The queue asks only about entries in memory (it reads paged ones back first).
    return entry.message !== undefined && s(entry.message);
  }

  /** @internal Called by the queue with an entry it has taken for this consumer. */
  send(entry: QueueEntry): void {
    const message = entry.message;
    if (message === undefined) throw new Error(`queue ${this.queue.name}: message ${entry.seq} is paged out and cannot be sent`);
    const tag = this.nextTag++;
    if (this.options.creditMode) this.credit--;
    const delivery: Delivery = {
      tag, message, deliveryCount: entry.deliveryCount, redelivered: entry.redelivered,
      queue: this.queue.name, seq: entry.seq,
    };
    entry.redelivered = true;
    if (this.options.autoAck) {
      this.queue.stats.acked++;
      if (entry.persisted) removeInBackground(this.queue.host.removed(this.queue, entry, 'acked'));
      else this.queue.host.released?.(entry);
    } else {
      this.unacked.set(tag, entry);
      this.queue.adjustUnacked(1);
      if (entry.persisted) this.queue.host.awaitingAck?.(this.queue, entry);
    }
    this.deliver(delivery, this);
  }

  /** Settles one delivery as consumed. Resolves once the removal is durable. */
  ack(tag: number): Promise<void> {
    const entry = this.take(tag);
    if (!entry) return RESOLVED;
    this.queue.stats.acked++;
    let done = RESOLVED;
    if (entry.persisted) done = this.queue.host.removed(this.queue, entry, 'acked');
    else this.queue.host.released?.(entry);
    this.queue.dispatch();
    return done;
  }

  /** Settles every delivery up to and including `tag` (STOMP ack:client, cumulative). */
  ackUpTo(tag: number): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const t of [...this.unacked.keys()]) if (t <= tag) waits.push(this.ack(t));
    return Promise.all(waits).then(() => undefined);
  }

  /** Gives a delivery back: requeued (optionally counting a failed attempt) or dead-lettered. */
  nack(tag: number, options: NackOptions): Promise<void> {
    const entry = this.take(tag);
    if (!entry) return RESOLVED;
    if (options.failed) entry.deliveryCount++;
    const limit = this.queue.options.maxDeliveries;
    if (!options.requeue) return this.finishDeadLetter(entry, 'rejected');
    if (limit > 0 && entry.deliveryCount >= limit) return this.finishDeadLetter(entry, 'delivery-limit');
    if (options.avoidConsumer) (entry.avoid ??= new Set()).add(this.id);
    this.queue.requeue([entry]);
    return RESOLVED;
  }

  /** Rejects a delivery: it goes to the dead-letter queue (or is dropped). */
  reject(tag: number): Promise<void> {
    return this.nack(tag, { requeue: false, failed: false });
  }

  isUnacked(tag: number): boolean {
    return this.unacked.has(tag);
  }

  unackedTags(): number[] {
    return [...this.unacked.keys()];
  }

  /** @internal */
  unackedEntries(): QueueEntry[] {
    return [...this.unacked.values()];
  }

  addCredit(n: number): void {
    this.credit += n;
    this.queue.dispatch();
  }

  setCredit(n: number): void {
    this.credit = n;
    this.queue.dispatch();
  }

  /**
   * AMQP drain: deliver what is available now, then give up the remaining credit. Returns the
   * credit given up. Messages paged out to disk count as available: while the queue reads them
   * back for this consumer, the drain waits (drainPending), keeps its credit, and calls `done`
   * once it has given up what is left.
   */
  drain(done?: () => void): number {
    this.queue.dispatch();
    if (this.credit > 0 && this.queue.readingAhead) {
      this.drainDone = done ?? (() => undefined);
      return 0;
    }
    const left = this.credit;
    this.credit = 0;
    return left;
  }

  /** A drain is waiting for paged-out messages (the adapter answers it once this is false). */
  get drainPending(): boolean {
    return this.drainDone !== null;
  }

  /** @internal The queue read a batch back and dispatched: a waiting drain ends unless it must wait for more. */
  continueDrain(): void {
    const done = this.drainDone;
    if (!done || (this.credit > 0 && this.queue.readingAhead && !this.closed)) return;
    this.drainDone = null;
    this.credit = 0;
    done();
  }

  /** Stops deliveries while the connection's socket cannot take more (back-pressure). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.queue.dispatch();
  }

  /**
   * Ends the consumer. Unacknowledged deliveries go back to the queue (as failed deliveries,
   * as JMS and STOMP expect after a consumer disappears) unless `requeue` is false.
   */
  close(requeue = true): void {
    if (this.closed) return;
    this.closed = true;
    this.drainDone = null;
    const entries = [...this.unacked.values()];
    this.unacked.clear();
    this.queue.adjustUnacked(-entries.length);
    this.queue.detach(this);
    if (this.queue.deleted) {
      // Its queue went with it (an auto-delete queue's last consumer), after listing its entries.
      for (const e of entries) this.queue.host.released?.(e);
      return;
    }
    if (requeue) {
      const keep: QueueEntry[] = [];
      const limit = this.queue.options.maxDeliveries;
      for (const e of entries) {
        e.deliveryCount++;
        if (limit > 0 && e.deliveryCount >= limit) removeInBackground(this.queue.deadLetterEntry(e, 'delivery-limit'));
        else keep.push(e);
      }
      this.queue.requeue(keep);
    } else {
      for (const e of entries) removeInBackground(this.queue.host.removed(this.queue, e, 'acked'));
    }
  }

  /** @internal the queue was deleted. */
  cancel(): void {
    this.close(false);
    this.onCancel?.();
  }

  private take(tag: number): QueueEntry | undefined {
    const entry = this.unacked.get(tag);
    if (!entry) return undefined;
    this.unacked.delete(tag);
    this.queue.adjustUnacked(-1);
    return entry;
  }

  private finishDeadLetter(entry: QueueEntry, reason: 'rejected' | 'delivery-limit'): Promise<void> {
    const done = this.queue.deadLetterEntry(entry, reason);
    this.queue.dispatch();
    return done;
  }
}
