/** What `send` and `receive` need from each protocol's client. */
import type { Target } from './url.js';

export interface TlsOptions {
  rejectUnauthorized: boolean;
  ca?: Buffer;
}

export interface OutgoingMessage {
  body: Buffer;
  headers: Record<string, string>;
  contentType?: string;
}

export interface ReceivedMessage {
  body: Buffer;
  headers: Record<string, string>;
  contentType?: string;
  /** The protocol's own fields (topic, qos, partition, offset, key, destination, message-id ...). */
  fields: Record<string, unknown>;
}

export interface ConnectOptions {
  target: Target;
  user?: string;
  password?: string;
  /** TLS: CA certificate and whether to check the server's certificate. */
  tls: TlsOptions;
  /** receive only. */
  fromBeginning?: boolean;
  group?: string;
  /** receive only: the most messages wanted (credit/prefetch is bounded by it). */
  count?: number;
}

export interface Sender {
  /** Resolves once the broker acknowledged the message (QoS 1, receipt, accepted outcome, acks). */
  send(m: OutgoingMessage): Promise<void>;
  close(): Promise<void>;
}

export interface Receiver {
  /**
   * Starts delivering to `onMessage`; resolves once subscribed. `onMessage` returns true while
   * more messages are wanted; a message it returned false for is not acknowledged.
   */
  start(onMessage: (m: ReceivedMessage) => boolean): Promise<void>;
  close(): Promise<void>;
}

export interface ProtocolClient {
  sender(o: ConnectOptions): Promise<Sender>;
  receiver(o: ConnectOptions): Promise<Receiver>;
}

export function headersOf(input: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!input || typeof input !== 'object') return out;
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
    if (v === undefined || v === null) continue;
    out[k] = Buffer.isBuffer(v) ? v.toString('utf8') : Array.isArray(v) ? v.map(String).join(',') : String(v);
  }
  return out;
}
