/**
 * A STOMP subscription: either a consumer of a core queue (queues, transient and durable topic
 * subscriptions, temp queues) or a reader of a stream from an `x-stream-offset` position.
 * Ack modes: `auto` (settled on send), `client` (cumulative), `client-individual`.
 */
import type { Consumer } from '../../core/queue-consumer.js';
import type { Transaction } from '../../core/transaction.js';
import type { StreamCursor, StreamMessage } from '../../core/stream/stream-cursor.js';
import type { Message } from '../../core/message.js';

export type AckMode = 'auto' | 'client' | 'client-individual';

export interface StompTransaction {
  tx: Transaction;
  /** Settlements of stream subscriptions, applied after the core transaction commits. */
  local: Array<() => void>;
}

/** What a subscription needs from its connection. */
export interface SubscriptionOwner {
  deliver(sub: Subscription, message: Message, tag: number, redelivered: boolean, extra?: string): void;
  /** True while the connection's socket cannot take more. */
  readonly writePaused: boolean;
  subscriptionFailed(sub: Subscription, err: Error): void;
  subscriptionCancelled(sub: Subscription): void;
}

export interface SubscriptionInit {
  id: string;
  num: number;
  ack: AckMode;
  prefetch: number;
  /** The destination as subscribed (MESSAGE `destination` for queue-like subscriptions). */
  destination: string;
  /** Topic subscriptions report the message's own topic as `/topic/<topic>`. */
  topicStyle: boolean;
}

export abstract class Subscription {
  readonly id: string;
  readonly num: number;
  readonly ackMode: AckMode;
  readonly destination: string;
  readonly topicStyle: boolean;
  closed = false;
  /** Queue of a durable subscription (deleted on UNSUBSCRIBE with the durable headers). */
  durableQueue?: string;

  constructor(init: SubscriptionInit) {
    this.id = init.id;
    this.num = init.num;
    this.ackMode = init.ack;
    this.destination = init.destination;
    this.topicStyle = init.topicStyle;
  }

  destinationFor(message: Message): string {
    return this.topicStyle ? '/topic/' + message.topic : this.destination;
  }

  abstract pause(): void;
  abstract resume(): void;
  /** Settles `tag` (and, cumulative, every earlier delivery). */
  abstract ack(tag: number, cumulative: boolean): Promise<void>;
  abstract nack(tag: number, cumulative: boolean): Promise<void>;
  abstract stageAck(t: StompTransaction, tag: number, cumulative: boolean): void;
  abstract stageNack(t: StompTransaction, tag: number, cumulative: boolean): void;
  /** Ends the subscription; unacknowledged queue deliveries go back to the queue. */
  abstract close(): void;
}

const NACK = { requeue: true, failed: true } as const;

export class QueueSubscription extends Subscription {
  consumer!: Consumer;

  constructor(init: SubscriptionInit, readonly queueName: string) {
    super(init);
  }

  attach(consumer: Consumer, owner: SubscriptionOwner): void {
    this.consumer = consumer;
    consumer.onCancel = () => owner.subscriptionCancelled(this);
  }

  override pause(): void {
    this.consumer?.pause();
  }

  override resume(): void {
    this.consumer.resume();
  }

  private tags(tag: number, cumulative: boolean): number[] {
    if (!cumulative) return this.consumer.isUnacked(tag) ? [tag] : [];
    return this.consumer.unackedTags().filter((t) => t <= tag);
  }

  override ack(tag: number, cumulative: boolean): Promise<void> {
    return cumulative ? this.consumer.ackUpTo(tag) : this.consumer.ack(tag);
  }

  override nack(tag: number, cumulative: boolean): Promise<void> {
    const tags = this.tags(tag, cumulative);
    if (tags.length === 1) return this.consumer.nack(tags[0], NACK);
    return Promise.all(tags.map((t) => this.consumer.nack(t, NACK))).then(() => undefined);
  }

  override stageAck(t: StompTransaction, tag: number, cumulative: boolean): void {
    for (const x of this.tags(tag, cumulative)) t.tx.ack(this.consumer, x);
  }

  override stageNack(t: StompTransaction, tag: number, cumulative: boolean): void {
    for (const x of this.tags(tag, cumulative)) t.tx.nack(this.consumer, x, NACK);
  }

  override close(): void {
    if (this.closed) return;
    this.closed = true;
    this.consumer.close();
  }
}

const POLL_MAX = 256;
const POLL_WAIT_MS = 500;

/**
 * Reads a stream from a cursor. Streams are logs: ACK and NACK only free the prefetch window
 * (nothing is redelivered, nothing is removed); in `auto` mode the window is unbounded and only
 * socket back-pressure pauses reading.
 */
export class StreamSubscription extends Subscription {
  private readonly window = new Set<number>();
  private nextTag = 1;
  private paused = false;
  private wake: (() => void) | null = null;

  constructor(init: SubscriptionInit, private readonly cursor: StreamCursor, private readonly owner: SubscriptionOwner, private readonly prefetch: number) {
    super(init);
    this.paused = owner.writePaused;
  }

  start(): void {
    void this.loop().catch((err: Error) => {
      if (!this.closed) this.owner.subscriptionFailed(this, err);
    });
  }

  private room(): number {
    if (this.ackMode === 'auto' || this.prefetch === 0) return POLL_MAX;
    return Math.min(POLL_MAX, this.prefetch - this.window.size);
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      const room = this.room();
      if (this.paused || room <= 0) {
        await new Promise<void>((resolve) => { this.wake = resolve; });
        continue;
      }
      const batch: StreamMessage[] = await this.cursor.poll(room, POLL_WAIT_MS);
      for (const m of batch) {
        if (this.closed) return;
        const tag = this.nextTag++;
        if (this.ackMode !== 'auto') this.window.add(tag);
        this.owner.deliver(this, m.message, tag, false, `x-stream-offset:${m.offset}\nx-stream-partition:${m.partition}\n`);
      }
    }
  }

  private signal(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  override pause(): void {
    this.paused = true;
  }

  override resume(): void {
    this.paused = false;
    this.signal();
  }

  private settle(tag: number, cumulative: boolean): void {
    if (cumulative) {
      for (const t of this.window) if (t <= tag) this.window.delete(t);
    } else this.window.delete(tag);
    this.signal();
  }

  override ack(tag: number, cumulative: boolean): Promise<void> {
    this.settle(tag, cumulative);
    return Promise.resolve();
  }

  override nack(tag: number, cumulative: boolean): Promise<void> {
    return this.ack(tag, cumulative);
  }

  override stageAck(t: StompTransaction, tag: number, cumulative: boolean): void {
    t.local.push(() => this.settle(tag, cumulative));
  }

  override stageNack(t: StompTransaction, tag: number, cumulative: boolean): void {
    this.stageAck(t, tag, cumulative);
  }

  override close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cursor.close();
    this.signal();
  }
}
