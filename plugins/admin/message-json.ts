/**
 * Core messages as JSON and back: queue peeks show payloads as base64 plus text when they are
 * valid UTF-8; POST /api/publish builds a core message from a JSON body.
 */
import { createMessage, type HeaderValue, type Headers, type Message } from '../../core/message.js';
import type { QueueEntry } from '../../core/queue-types.js';
import { HttpError } from './http-util.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The text of `bytes` when they are valid UTF-8, else undefined. */
export function utf8Text(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** A header value in JSON: bytes as `{ base64 }`, bigints as decimal strings. */
function headerJson(v: HeaderValue): unknown {
  if (Buffer.isBuffer(v)) return { base64: v.toString('base64') };
  if (typeof v === 'bigint') return v.toString();
  return v;
}

export interface PeekedMessage {
  seq: number;
  topic: string;
  size: number;
  payloadBase64: string;
  payloadText?: string;
  /** Only the first maxPayloadBytes are shown. */
  payloadTruncated?: boolean;
  key?: string;
  keyBase64?: string;
  headers: Record<string, unknown>;
  contentType?: string;
  contentEncoding?: string;
  messageId?: string;
  correlationId?: string | { base64: string };
  replyTo?: string;
  timestamp: number;
  expiry?: number;
  priority?: number;
  durable: boolean;
  source: string;
  deliveryCount: number;
  redelivered: boolean;
}

/** `m` is the entry's message (read back from disk when the entry is paged out). */
export function peekedMessage(entry: QueueEntry, m: Message, maxPayloadBytes: number): PeekedMessage {
  const truncated = m.payload.length > maxPayloadBytes;
  const shown = truncated ? m.payload.subarray(0, maxPayloadBytes) : m.payload;
  const out: PeekedMessage = {
    seq: entry.seq,
    topic: m.topic,
    size: m.payload.length,
    payloadBase64: shown.toString('base64'),
    headers: {},
    timestamp: m.timestamp,
    durable: m.durable,
    source: m.source,
    deliveryCount: entry.deliveryCount,
    redelivered: entry.redelivered,
  };
  // A truncated payload may end inside a character: no text then, rather than a wrong one.
  const text = truncated ? undefined : utf8Text(shown);
  if (text !== undefined) out.payloadText = text;
  if (truncated) out.payloadTruncated = true;
  if (m.key) {
    out.keyBase64 = m.key.toString('base64');
    const k = utf8Text(m.key);
    if (k !== undefined) out.key = k;
  }
  for (const [k, v] of Object.entries(m.headers)) out.headers[k] = headerJson(v);
  if (m.contentType !== undefined) out.contentType = m.contentType;
  if (m.contentEncoding !== undefined) out.contentEncoding = m.contentEncoding;
  if (m.messageId !== undefined) out.messageId = m.messageId;
  if (m.correlationId !== undefined) out.correlationId = Buffer.isBuffer(m.correlationId) ? { base64: m.correlationId.toString('base64') } : m.correlationId;
  if (m.replyTo !== undefined) out.replyTo = m.replyTo;
  if (m.expiry !== undefined) out.expiry = m.expiry;
  if (m.priority !== undefined) out.priority = m.priority;
  return out;
}

const PUBLISH_KEYS = new Set([
  'topic', 'queue', 'payload', 'payloadBase64', 'headers', 'contentType', 'contentEncoding', 'durable',
  'key', 'messageId', 'correlationId', 'replyTo', 'priority', 'ttl',
]);

function optString(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new HttpError(400, `${name} must be a string`);
  return v;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Where a publish goes and the message to send; HttpError 400 for anything malformed. */
export function publishRequest(body: Record<string, unknown>): { target: { topic: string } | { queue: string }; message: Message } {
  for (const k of Object.keys(body)) if (!PUBLISH_KEYS.has(k)) throw new HttpError(400, `unknown field "${k}"`);
  const topic = optString(body, 'topic');
  const queue = optString(body, 'queue');
  if ((topic === undefined) === (queue === undefined)) throw new HttpError(400, 'give exactly one of topic or queue');
  if ((topic ?? queue) === '') throw new HttpError(400, 'the topic or queue name is empty');

  const text = optString(body, 'payload');
  const b64 = optString(body, 'payloadBase64');
  if (text !== undefined && b64 !== undefined) throw new HttpError(400, 'give payload or payloadBase64, not both');
  if (b64 !== undefined && (b64.length % 4 !== 0 || !BASE64.test(b64))) throw new HttpError(400, 'payloadBase64 is not valid base64');
  const payload = text !== undefined ? Buffer.from(text, 'utf8') : Buffer.from(b64 ?? '', 'base64');

  const headers: Headers = {};
  const rawHeaders = body.headers ?? {};
  if (rawHeaders === null || typeof rawHeaders !== 'object' || Array.isArray(rawHeaders)) throw new HttpError(400, 'headers must be an object');
  for (const [k, v] of Object.entries(rawHeaders as Record<string, unknown>)) {
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) || v === null) headers[k] = v;
    else throw new HttpError(400, `header "${k}" must be a string, number, boolean or null`);
  }

  const durable = body.durable ?? false;
  if (typeof durable !== 'boolean') throw new HttpError(400, 'durable must be true or false');
  const priority = body.priority;
  if (priority !== undefined && (!Number.isInteger(priority) || (priority as number) < 0 || (priority as number) > 9)) {
    throw new HttpError(400, 'priority must be an integer from 0 to 9');
  }
  const ttl = body.ttl;
  if (ttl !== undefined && (!Number.isInteger(ttl) || (ttl as number) <= 0)) throw new HttpError(400, 'ttl must be a positive integer (milliseconds)');

  const now = Date.now();
  const message = createMessage({ topic: (topic ?? queue)!, payload, headers, durable, source: 'http', timestamp: now });
  if (text !== undefined) message.text = true;
  const key = optString(body, 'key');
  if (key !== undefined) message.key = Buffer.from(key, 'utf8');
  const contentType = optString(body, 'contentType');
  if (contentType !== undefined) message.contentType = contentType;
  const contentEncoding = optString(body, 'contentEncoding');
  if (contentEncoding !== undefined) message.contentEncoding = contentEncoding;
  const messageId = optString(body, 'messageId');
  if (messageId !== undefined) message.messageId = messageId;
  const correlationId = optString(body, 'correlationId');
  if (correlationId !== undefined) message.correlationId = correlationId;
  const replyTo = optString(body, 'replyTo');
  if (replyTo !== undefined) message.replyTo = replyTo;
  if (priority !== undefined) message.priority = priority as number;
  if (ttl !== undefined) message.expiry = now + (ttl as number);
  return { target: topic !== undefined ? { topic } : { queue: queue! }, message };
}
