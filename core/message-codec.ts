/**
 * Binary encoding of a core message for the journal. Typed header values keep their types.
 *
 *   u8 version(1) | u16 flags | u32 payloadLen payload | str topic | f64 timestamp | [optional fields by flag]
 *   | u16 headerCount { str name, u8 type, value } | u16 annotationCount { same }
 * Strings are u32 length + UTF-8.
 */
import { HeaderValue, Message } from './message.js';
import type { MessageSummary } from './store.js';

const enum F {
  Key = 1, ContentType = 2, ContentEncoding = 4, MessageId = 8, CorrelationStr = 16, CorrelationBin = 32,
  ReplyTo = 64, Expiry = 128, Priority = 256, Durable = 512, Text = 1024,
}
const enum T { Null = 0, Str = 1, Num = 2, Big = 3, True = 4, False = 5, Bin = 6 }

class Writer {
  buf = Buffer.allocUnsafe(256);
  pos = 0;
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(v: number): void { this.ensure(1); this.buf[this.pos++] = v; }
  u16(v: number): void { this.ensure(2); this.buf.writeUInt16BE(v, this.pos); this.pos += 2; }
  u32(v: number): void { this.ensure(4); this.buf.writeUInt32BE(v, this.pos); this.pos += 4; }
  f64(v: number): void { this.ensure(8); this.buf.writeDoubleBE(v, this.pos); this.pos += 8; }
  bytes(b: Buffer): void { this.u32(b.length); this.ensure(b.length); b.copy(this.buf, this.pos); this.pos += b.length; }
  str(s: string): void {
    const len = Buffer.byteLength(s);
    this.u32(len);
    this.ensure(len);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += len;
  }
}

class Reader {
  pos = 0;
  constructor(private buf: Buffer) {}
  need(n: number): void { if (this.pos + n > this.buf.length) throw new RangeError('truncated message record'); }
  u8(): number { this.need(1); return this.buf[this.pos++]; }
  u16(): number { this.need(2); const v = this.buf.readUInt16BE(this.pos); this.pos += 2; return v; }
  u32(): number { this.need(4); const v = this.buf.readUInt32BE(this.pos); this.pos += 4; return v; }
  f64(): number { this.need(8); const v = this.buf.readDoubleBE(this.pos); this.pos += 8; return v; }
  bytes(): Buffer { const n = this.u32(); this.need(n); const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n)); this.pos += n; return b; }
  str(): string { const n = this.u32(); this.need(n); const s = this.buf.toString('utf8', this.pos, this.pos + n); this.pos += n; return s; }
}

function writeValue(w: Writer, v: HeaderValue): void {
  if (v === null) w.u8(T.Null);
  else if (typeof v === 'string') { w.u8(T.Str); w.str(v); }
  else if (typeof v === 'number') { w.u8(T.Num); w.f64(v); }
  else if (typeof v === 'bigint') { w.u8(T.Big); w.str(v.toString()); }
  else if (typeof v === 'boolean') w.u8(v ? T.True : T.False);
  else { w.u8(T.Bin); w.bytes(v); }
}

function readValue(r: Reader): HeaderValue {
  const t = r.u8();
  switch (t) {
    case T.Null: return null;
    case T.Str: return r.str();
    case T.Num: return r.f64();
    case T.Big: return BigInt(r.str());
    case T.True: return true;
    case T.False: return false;
    case T.Bin: return r.bytes();
    default: throw new RangeError(`unknown header value type ${t}`);
  }
}

function writeMap(w: Writer, map: Record<string, HeaderValue> | undefined): void {
  const entries = map ? Object.entries(map) : [];
  w.u16(entries.length);
  for (const [k, v] of entries) { w.str(k); writeValue(w, v); }
}

function readMap(r: Reader): Record<string, HeaderValue> {
  const n = r.u16();
  const out: Record<string, HeaderValue> = {};
  for (let i = 0; i < n; i++) { const k = r.str(); out[k] = readValue(r); }
  return out;
}

export function encodeMessage(m: Message): Buffer {
  const w = new Writer();
  let flags = 0;
  if (m.key) flags |= F.Key;
  if (m.contentType !== undefined) flags |= F.ContentType;
  if (m.contentEncoding !== undefined) flags |= F.ContentEncoding;
  if (m.messageId !== undefined) flags |= F.MessageId;
  if (typeof m.correlationId === 'string') flags |= F.CorrelationStr;
  else if (m.correlationId) flags |= F.CorrelationBin;
  if (m.replyTo !== undefined) flags |= F.ReplyTo;
  if (m.expiry !== undefined) flags |= F.Expiry;
  if (m.priority !== undefined) flags |= F.Priority;
  if (m.durable) flags |= F.Durable;
  if (m.text) flags |= F.Text;
  w.u8(1);
  w.u16(flags);
  w.bytes(m.payload);
  w.str(m.topic);
  w.f64(m.timestamp);
  w.str(m.source);
  if (m.key) w.bytes(m.key);
  if (m.contentType !== undefined) w.str(m.contentType);
  if (m.contentEncoding !== undefined) w.str(m.contentEncoding);
  if (m.messageId !== undefined) w.str(m.messageId);
  if (typeof m.correlationId === 'string') w.str(m.correlationId);
  else if (m.correlationId) w.bytes(m.correlationId);
  if (m.replyTo !== undefined) w.str(m.replyTo);
  if (m.expiry !== undefined) w.f64(m.expiry);
  if (m.priority !== undefined) w.u8(m.priority);
  writeMap(w, m.headers);
  writeMap(w, m.annotations);
  return w.buf.subarray(0, w.pos);
}

export function decodeMessage(buf: Buffer): Message {
  const r = new Reader(buf);
  const version = r.u8();
  if (version !== 1) throw new RangeError(`unknown message record version ${version}`);
  const flags = r.u16();
  const m: Message = { payload: r.bytes(), topic: r.str(), timestamp: r.f64(), source: r.str(), headers: {}, durable: (flags & F.Durable) !== 0 };
  if (flags & F.Key) m.key = r.bytes();
  if (flags & F.ContentType) m.contentType = r.str();
  if (flags & F.ContentEncoding) m.contentEncoding = r.str();
  if (flags & F.MessageId) m.messageId = r.str();
  if (flags & F.CorrelationStr) m.correlationId = r.str();
  if (flags & F.CorrelationBin) m.correlationId = r.bytes();
  if (flags & F.ReplyTo) m.replyTo = r.str();
  if (flags & F.Expiry) m.expiry = r.f64();
  if (flags & F.Priority) m.priority = r.u8();
  if (flags & F.Text) m.text = true;
  m.headers = readMap(r);
  const annotations = readMap(r);
  if (Object.keys(annotations).length > 0) m.annotations = annotations;
  return m;
}

/** Position after the u32-length-prefixed field at `p` (throws when the record ends inside it). */
function skipField(buf: Buffer, p: number): number {
  if (p + 4 > buf.length) throw new RangeError('truncated message record');
  const end = p + 4 + buf.readUInt32BE(p);
  if (end > buf.length) throw new RangeError('truncated message record');
  return end;
}

/**
 * What a paged queue keeps of an encoded message without decoding it (store.ts MessageSummary):
 * priority, expiry and the size messageSize() gives (topic counted in bytes). Walks the fields,
 * allocates nothing but the result (it runs for every message journaled).
 */
export function summarizeMessage(buf: Buffer): MessageSummary {
  if (buf.length < 3) throw new RangeError('truncated message record');
  if (buf[0] !== 1) throw new RangeError(`unknown message record version ${buf[0]}`);
  const flags = buf.readUInt16BE(1);
  let p = skipField(buf, 3);
  const payload = p - 3 - 4;
  let q = skipField(buf, p);
  const topic = q - p - 4;
  p = q + 8; // timestamp
  if (p > buf.length) throw new RangeError('truncated message record');
  p = skipField(buf, p); // source
  let key = 0;
  if (flags & F.Key) {
    q = skipField(buf, p);
    key = q - p - 4;
    p = q;
  }
  if (flags & F.ContentType) p = skipField(buf, p);
  if (flags & F.ContentEncoding) p = skipField(buf, p);
  if (flags & F.MessageId) p = skipField(buf, p);
  if (flags & (F.CorrelationStr | F.CorrelationBin)) p = skipField(buf, p);
  if (flags & F.ReplyTo) p = skipField(buf, p);
  const summary: MessageSummary = { size: payload + key + 64 + topic };
  if (flags & F.Expiry) {
    if (p + 8 > buf.length) throw new RangeError('truncated message record');
    summary.expiry = buf.readDoubleBE(p);
    p += 8;
  }
  if (flags & F.Priority) {
    if (p + 1 > buf.length) throw new RangeError('truncated message record');
    summary.priority = buf[p];
  }
  return summary;
}
