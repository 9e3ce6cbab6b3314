/**
 * The protocol-neutral message. Every adapter maps its protocol's fields onto these and back;
 * the mapping table lives in docs/mapping.md. Payload bytes are never re-encoded on the way through.
 */

/** A user header value. Types survive between protocols that can carry them (AMQP, core); others stringify. */
export type HeaderValue = string | number | bigint | boolean | Buffer | null;
export type Headers = Record<string, HeaderValue>;

export interface Message {
  /** Address the message was published to: a core topic name (`a.b.c`) or, for direct sends, the queue name. */
  topic: string;
  payload: Buffer;
  key?: Buffer;
  headers: Headers;
  contentType?: string;
  contentEncoding?: string;
  messageId?: string;
  correlationId?: string | Buffer;
  /** A core address: `/queue/NAME`, `/topic/a.b.c`, or a protocol's own reply address kept as given. */
  replyTo?: string;
  /** Creation time, ms since epoch. */
  timestamp: number;
  /** Absolute expiry, ms since epoch; undefined = never. */
  expiry?: number;
  /** 0..9 as in AMQP/JMS; default 4. */
  priority?: number;
  durable: boolean;
  /** Protocol that published it: 'mqtt' | 'amqp' | 'stomp' | 'xmpp' | 'kafka' | 'core'. */
  source: string;
  /** Payload is UTF-8 text (MQTT payload format indicator 1, AMQP amqp-value string, STOMP text). */
  text?: boolean;
  /** Connection that published it, for no-local subscriptions. Not stored. */
  origin?: string;
  /**
   * The publisher's idempotency key, for a publish the publisher may repeat without knowing whether
   * the first attempt was stored (MQTT QoS 2 resent after a failure): a repeat within two minutes
   * is stored once (this node's queues: RecentPublishes; a cluster's shared queues and fan-out:
   * JetStream's duplicate window). Not stored.
   */
  publishId?: string;
  /**
   * Protocol-specific extras that have no core field, kept for same-protocol round trips
   * (for example an AMQP body that is not a single data section). Keys are prefixed by protocol.
   */
  annotations?: Record<string, HeaderValue>;
}

export type MessageInit = Partial<Message> & { topic: string; payload: Buffer };

export function createMessage(init: MessageInit): Message {
  return {
    headers: {},
    timestamp: Date.now(),
    durable: false,
    source: 'core',
    ...init,
  };
}

export function isExpired(message: Message, now: number): boolean {
  return message.expiry !== undefined && message.expiry <= now;
}

/** Renders a header value as a string for protocols whose headers are strings (STOMP, MQTT user properties, Kafka). */
export function headerToString(value: HeaderValue): string {
  if (value === null) return '';
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

/** The approximate memory a message holds, for byte-based limits. */
export function messageSize(message: Message): number {
  return message.payload.length + (message.key?.length ?? 0) + 64 + message.topic.length;
}
