/**
 * STOMP frame <-> core message (the STOMP rows of the mapping table, docs/stomp.md).
 *
 * SEND -> Message: body = payload (bytes as received), `content-type`, `content-encoding`,
 * `persistent:true` = durable, `reply-to` (rewritten to the core form by the caller),
 * `correlation-id`, `expires` (absolute ms since epoch, 0 = never) or RabbitMQ's `expiration`
 * (relative ms), `priority` 0..9, `x-message-id` (or `message-id`) = message id, `x-key` = key,
 * `timestamp` (ms), and every other header a user header with its name kept.
 * Message -> MESSAGE: the same headers back, plus `destination`, `message-id`, `subscription`,
 * `ack`, `redelivered`, `content-length`.
 */
import { headerToString, type Headers, type Message } from '../../core/message.js';
import { COLON, CR, LF, escapeHeader, type StompHeaders, type StompVersion } from './frame.js';

/** SEND headers that are protocol, not user headers. */
const SEND_PROTOCOL_HEADERS = new Set([
  'destination', 'content-length', 'content-type', 'content-encoding', 'receipt', 'transaction', 'persistent',
  'reply-to', 'correlation-id', 'expires', 'expiration', 'priority', 'message-id', 'x-message-id', 'x-key', 'timestamp',
]);

/** Header names the MESSAGE frame sets itself; user headers with these names are not repeated. */
const MESSAGE_RESERVED = new Set([
  'destination', 'message-id', 'subscription', 'ack', 'content-length', 'content-type', 'content-encoding',
  'redelivered', 'persistent', 'reply-to', 'correlation-id', 'expires', 'priority', 'timestamp',
  'x-message-id', 'x-key', 'x-stream-offset', 'x-stream-partition',
]);

export class HeaderValueError extends Error {
  override readonly name = 'HeaderValueError';
}

function integer(name: string, value: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isSafeInteger(n)) throw new HeaderValueError(`invalid ${name} header "${value}"`);
  return n;
}

function isTextType(ct: string): boolean {
  const t = ct.trimStart().toLowerCase();
  return t.startsWith('text/') || t.startsWith('application/json') || t.startsWith('application/xml');
}

/**
 * Builds the core message of a SEND frame. `topic` is the core address (topic or queue name);
 * `replyTo` the already rewritten reply address.
 */
export function sendFrameToMessage(
  headers: StompHeaders,
  body: Buffer,
  topic: string,
  replyTo: string | undefined,
  origin: string,
  now = Date.now(),
): Message {
  const user: Headers = {};
  for (const k in headers) if (!SEND_PROTOCOL_HEADERS.has(k)) user[k] = headers[k];
  const m: Message = {
    topic,
    payload: body,
    headers: user,
    timestamp: now,
    durable: headers.persistent === 'true',
    source: 'stomp',
    origin,
  };
  const ct = headers['content-type'];
  if (ct !== undefined) {
    m.contentType = ct;
    if (isTextType(ct)) m.text = true;
  }
  if (headers['content-encoding'] !== undefined) m.contentEncoding = headers['content-encoding'];
  if (replyTo !== undefined) m.replyTo = replyTo;
  if (headers['correlation-id'] !== undefined) m.correlationId = headers['correlation-id'];
  const mid = headers['x-message-id'] ?? headers['message-id'];
  if (mid !== undefined) m.messageId = mid;
  if (headers['x-key'] !== undefined) m.key = Buffer.from(headers['x-key'], 'utf8');
  if (headers.timestamp !== undefined) m.timestamp = integer('timestamp', headers.timestamp);
  if (headers.expires !== undefined) {
    const e = integer('expires', headers.expires);
    if (e > 0) m.expiry = e;
  } else if (headers.expiration !== undefined) {
    const ttl = integer('expiration', headers.expiration);
    if (ttl < 0) throw new HeaderValueError(`invalid expiration header "${headers.expiration}"`);
    m.expiry = now + ttl;
  }
  if (headers.priority !== undefined) {
    const p = integer('priority', headers.priority);
    if (p < 0 || p > 9) throw new HeaderValueError(`priority must be 0..9 (got ${p})`);
    m.priority = p;
  }
  return m;
}

export interface MessageFrameInfo {
  destination: string;
  subscription: string;
  messageId: string;
  /** The 1.2 `ack` header (client and client-individual subscriptions). */
  ack?: string;
  redelivered: boolean;
  /** Extra headers (stream offset and partition). */
  extra?: string;
}

function needsEscape(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === LF || c === CR || c === COLON || c === 0x5c) return true;
  }
  return false;
}

/** Header line `name:value\n` for the session's version (1.0 keeps names free of colons and line breaks). */
function line(name: string, value: string, esc: StompVersion | null): string {
  const n = needsEscape(name) ? (esc === null ? escapeHeader(name, null).replaceAll(':', '_') : escapeHeader(name, esc)) : name;
  const v = needsEscape(value) ? escapeHeader(value, esc) : value;
  return n + ':' + v + '\n';
}

/** Encodes a MESSAGE frame for a core message. `version` is the session's (1.0: no escaping). */
export function messageToFrame(message: Message, info: MessageFrameInfo, version: StompVersion): Buffer {
  const esc: StompVersion | null = version === '1.0' ? null : version;
  let head = 'MESSAGE\n' + line('destination', info.destination, esc)
    + 'message-id:' + info.messageId + '\n'
    + line('subscription', info.subscription, esc);
  if (info.ack !== undefined) head += 'ack:' + info.ack + '\n';
  if (info.redelivered) head += 'redelivered:true\n';
  if (message.durable) head += 'persistent:true\n';
  if (message.contentType !== undefined) head += line('content-type', message.contentType, esc);
  if (message.contentEncoding !== undefined) head += line('content-encoding', message.contentEncoding, esc);
  if (message.replyTo !== undefined) head += line('reply-to', message.replyTo, esc);
  if (message.correlationId !== undefined) head += line('correlation-id', headerToString(message.correlationId), esc);
  if (message.expiry !== undefined) head += 'expires:' + message.expiry + '\n';
  if (message.priority !== undefined) head += 'priority:' + message.priority + '\n';
  head += 'timestamp:' + message.timestamp + '\n';
  if (message.messageId !== undefined) head += line('x-message-id', message.messageId, esc);
  if (message.key !== undefined) head += line('x-key', message.key.toString('utf8'), esc);
  if (info.extra !== undefined) head += info.extra;
  const h = message.headers;
  for (const k in h) {
    if (MESSAGE_RESERVED.has(k)) continue;
    head += line(k, headerToString(h[k]), esc);
  }
  head += 'content-length:' + message.payload.length + '\n\n';
  const headLen = Buffer.byteLength(head, 'utf8');
  const out = Buffer.allocUnsafe(headLen + message.payload.length + 1);
  out.write(head, 0, headLen, 'utf8');
  message.payload.copy(out, headLen);
  out[out.length - 1] = 0;
  return out;
}
