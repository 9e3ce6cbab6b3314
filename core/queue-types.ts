import type { Message } from './message.js';

export type OverflowPolicy = 'block' | 'drop-head' | 'reject';

export interface QueueOptions {
  /** The definition survives restarts and durable messages in it are journaled. */
  durable: boolean;
  /** Deleted when its last consumer leaves (transient subscriptions, temporary queues). */
  autoDelete: boolean;
  /** Connection that owns an exclusive queue; others may not consume from it. */
  exclusiveOwner?: string;
  /** Bound on ready messages; 0 = unlimited. */
  maxLength: number;
  /** Bound on ready bytes; 0 = unlimited. */
  maxBytes: number;
  /** What happens past the bounds: slow the publishers, drop the oldest, or refuse. */
  overflow: OverflowPolicy;
  /** Per-queue message TTL in ms; 0 = none. */
  messageTtl: number;
  /** Failed deliveries before a message is dead-lettered; 0 = unlimited. */
  maxDeliveries: number;
  /** Queue that receives rejected and too-often-redelivered messages (and expired ones with deadLetterOnExpiry); '' = drop them. */
  deadLetterQueue: string;
  /** Expired messages go to the dead-letter queue (as RabbitMQ's DLX) instead of being dropped; default false. */
  deadLetterOnExpiry?: boolean;
  /** Deliver higher `priority` first (FIFO within one); default true, false = plain FIFO (docs/queues.md). */
  priorities?: boolean;
  /** Free-form labels for adapters (e.g. which protocol made it); persisted with the definition. `owner`: the user whose client created it (limits.maxQueuesPerUser). */
  labels?: Record<string, string>;
}

export const DEFAULT_QUEUE_OPTIONS: QueueOptions = {
  durable: false,
  autoDelete: false,
  maxLength: 0,
  maxBytes: 0,
  overflow: 'block',
  messageTtl: 0,
  maxDeliveries: 0,
  deadLetterQueue: '',
};

/** One message held by one queue. The message object itself may be shared by many queues. */
export interface QueueEntry {
  seq: number;
  /**
   * The message; undefined while it is paged out: its body is then only in the journal and is
   * read back before it is delivered, browsed or dead-lettered (core/queue-memory.ts).
   */
  message: Message | undefined;
  /** The message's priority and expiry (with the queue's TTL applied), kept while it is paged out. Set by Queue.enqueue. */
  priority?: number;
  expiry?: number;
  /** Its body can be read back from the local journal by seq, so it may be paged out (core/queue-memory.ts). */
  pageable?: boolean;
  /** Failed delivery attempts so far (AMQP header delivery-count). */
  deliveryCount: number;
  /** Delivered at least once before (STOMP/JMS redelivered, MQTT DUP). */
  redelivered: boolean;
  /** Journaled: an ack must be journaled too. */
  persisted: boolean;
  size: number;
  /** Its body is being read back (read-ahead): it must stay this object, not be packed (core/ready-entries.ts). */
  reading?: boolean;
  /** Consumers this entry must not go to again (AMQP modified undeliverable-here). */
  avoid?: Set<number>;
  /** The queue whose outbound memory counts this body (core/outbound-memory.ts); unset once released or when it can page. */
  heldBy?: OutboundHolder;
}

/** What the broker-wide outbound memory bound counts per queue (a Queue is one). */
export interface OutboundHolder {
  readonly name: string;
  outboundBytes: number;
}

export interface Delivery {
  /** Per-consumer delivery tag used to settle it. */
  tag: number;
  message: Message;
  deliveryCount: number;
  redelivered: boolean;
  queue: string;
  /** Queue sequence number of the message (stable across redeliveries). */
  seq: number;
}

export interface ConsumerOptions {
  /** Max unacknowledged deliveries; 0 = unlimited. */
  prefetch: number;
  /** Deliveries are settled on send (MQTT QoS 0, STOMP ack:auto, AMQP pre-settled). */
  autoAck: boolean;
  /** AMQP-style link credit: when true, deliveries also consume credit given by addCredit(). */
  creditMode: boolean;
  /** Connection id, checked against exclusive queues. */
  owner?: string;
  /** Only messages this accepts go to the consumer (a JMS selector, core/selector.ts); others stay for other consumers. */
  selector?: (message: Message) => boolean;
  /**
   * Messages no consumer of the queue selects are removed instead of waiting: for a topic
   * subscription's own queue, which nobody else will read.
   */
  dropUnselected?: boolean;
}

export interface NackOptions {
  /** Put it back for redelivery (true) or dead-letter/drop it (false). */
  requeue: boolean;
  /** Count this as a failed delivery (AMQP modified delivery-failed, STOMP NACK). */
  failed: boolean;
  /** Never give it to this consumer again (AMQP undeliverable-here). */
  avoidConsumer?: boolean;
}

/** The owner label of a queue a client creates: its user, or `anonymous` for every anonymous client. */
export function ownerOf(principal: { user: string; anonymous: boolean } | null | undefined): string {
  return principal && !principal.anonymous ? principal.user : 'anonymous';
}

export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
}
export class QueueNotFoundError extends Error {
  override readonly name = 'QueueNotFoundError';
}
export class ExclusiveQueueError extends Error {
  override readonly name = 'ExclusiveQueueError';
}

/**
 * A removal nobody waits for (auto-ack, drop-head, purge, expiry). It may fail: in a cluster, the
 * queue's owner changed or cannot be reached. The message then stays stored and is delivered again
 * by the next owner (at least once), so the failure is not an error of the caller's; it must not
 * become an unhandled rejection, which ends the process.
 */
export function removeInBackground(removal: Promise<void>): void {
  removal.catch(() => undefined);
}
