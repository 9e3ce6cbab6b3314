/**
 * AMQP 1.0 message <-> core Message (the AMQP rows of the mapping table, docs/amqp.md).
 *
 *   header.durable / priority / ttl      durable / priority / expiry (now + ttl)
 *   header.delivery-count, first-acquirer   from the queue's delivery count and redelivered flag (out)
 *   message-annotations x-opt-partition-key  key
 *   properties.message-id                messageId (ulong, uuid, binary ids as text, type kept in an annotation)
 *   properties.correlation-id            correlationId (binary stays a Buffer)
 *   properties.reply-to                  replyTo in the core form (/queue/x, /topic/x) when it names a node
 *   properties.content-type / -encoding  contentType / contentEncoding
 *   properties.absolute-expiry-time      expiry (the earlier of it and the ttl)
 *   properties.creation-time             timestamp
 *   properties.to                        as sent; when absent /topic/<topic> or /queue/<queue> (out)
 *   properties.user-id, subject, group-id, group-sequence, reply-to-group-id
 *                                        annotations `amqp.*` (AMQP -> AMQP only)
 *   application-properties               headers (types kept: see amqp-codec.ts; other AMQP types
 *                                        are restored from the `amqp.ap-types` annotation)
 *   body: one data section               payload
 *   body: amqp-value string              payload (UTF-8) with text = true; back to AMQP as amqp-value
 *   body: anything else                  the encoded body kept in annotation `amqp.body` and sent
 *                                        back to AMQP consumers as it came; payload best effort
 *                                        (data sections joined, binary value as is, other values
 *                                        as JSON text)
 *   footer                               annotation `amqp.footer` (AMQP -> AMQP)
 *
 * Messages from other protocols always reach AMQP consumers as one data section.
 */
import type { HeaderValue, Headers, Message } from '../../core/message.js';
import { replyToCore, type BareNamePolicy } from './address.js';
import {
  AmqpDecodeError, AmqpDescribed, AmqpMap, AmqpSymbol, AmqpTyped, AmqpUuid, Decoder, TC,
  typeNameOfCode, type AmqpTypeName,
} from './amqp-codec.js';
import { Encoder } from './amqp-encoder.js';

/** Section descriptors (spec part 3.2). */
export const enum Section {
  Header = 0x70, DeliveryAnnotations = 0x71, MessageAnnotations = 0x72, Properties = 0x73,
  ApplicationProperties = 0x74, Data = 0x75, AmqpSequence = 0x76, AmqpValue = 0x77, Footer = 0x78,
}

const SECTION_NAMES: Record<string, number> = {
  'amqp:header:list': Section.Header,
  'amqp:delivery-annotations:map': Section.DeliveryAnnotations,
  'amqp:message-annotations:map': Section.MessageAnnotations,
  'amqp:properties:list': Section.Properties,
  'amqp:application-properties:map': Section.ApplicationProperties,
  'amqp:data:binary': Section.Data,
  'amqp:amqp-sequence:list': Section.AmqpSequence,
  'amqp:amqp-value:*': Section.AmqpValue,
  'amqp:footer:map': Section.Footer,
};

/** Annotation keys (core Message.annotations) used for AMQP-only data. */
export const A = {
  messageIdType: 'amqp.message-id-type',
  correlationIdType: 'amqp.correlation-id-type',
  userId: 'amqp.user-id',
  to: 'amqp.to',
  subject: 'amqp.subject',
  replyTo: 'amqp.reply-to',
  absoluteExpiry: 'amqp.absolute-expiry-time',
  noCreationTime: 'amqp.no-creation-time',
  groupId: 'amqp.group-id',
  groupSequence: 'amqp.group-sequence',
  replyToGroupId: 'amqp.reply-to-group-id',
  messageAnnotations: 'amqp.message-annotations',
  apTypes: 'amqp.ap-types',
  body: 'amqp.body',
  footer: 'amqp.footer',
} as const;

export const PARTITION_KEY = 'x-opt-partition-key';

export interface DecodedAmqpMessage {
  /** The core message; `topic` is empty until the caller resolves the destination. */
  message: Message;
  /** properties.to, for the anonymous relay. */
  to?: string;
  /** properties.user-id, checked against the authenticated user. */
  userId?: Buffer;
}

export interface DecodeOptions {
  bareName: BareNamePolicy;
  now?: number;
}

function sectionCode(descriptor: unknown): number {
  if (typeof descriptor === 'bigint') return Number(descriptor);
  if (descriptor instanceof AmqpSymbol) return SECTION_NAMES[descriptor.value] ?? -1;
  return -1;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function sym(v: unknown): string | undefined {
  if (v instanceof AmqpSymbol) return v.value;
  return typeof v === 'string' ? v : undefined;
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

/** A JSON rendering of a decoded AMQP value (the best-effort payload of non-standard bodies). */
export function amqpToJson(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v !== 'object') return v;
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (v instanceof AmqpSymbol || v instanceof AmqpUuid) return v.toString();
  if (Array.isArray(v)) return v.map(amqpToJson);
  if (v instanceof AmqpMap) {
    const o: Record<string, unknown> = {};
    for (const [k, val] of v.entries) o[String(amqpToJson(k))] = amqpToJson(val);
    return o;
  }
  if (v instanceof AmqpDescribed) return { descriptor: amqpToJson(v.descriptor), value: amqpToJson(v.value) };
  if (v instanceof AmqpTyped) return Buffer.isBuffer(v.value) ? v.value.toString('hex') : amqpToJson(v.value);
  return String(v);
}

/** An id (message-id, correlation-id) as the core keeps it, and its AMQP type when not a string. */
function coreId(v: unknown, binaryAsBuffer: boolean): { id?: string | Buffer; type?: string } {
  if (typeof v === 'string') return { id: v };
  if (typeof v === 'bigint') return { id: v.toString(), type: 'ulong' };
  if (typeof v === 'number') return { id: String(v), type: 'ulong' };
  if (v instanceof AmqpUuid) return { id: v.toString(), type: 'uuid' };
  if (Buffer.isBuffer(v)) return binaryAsBuffer ? { id: v } : { id: v.toString('hex'), type: 'binary' };
  return {};
}

/** A header value from an application-properties value; `type` set when the JS value does not tell it. */
function headerValue(v: unknown, code: number): { value: HeaderValue; type?: AmqpTypeName } | null {
  switch (typeof v) {
    case 'string':
      return code === TC.Char ? { value: v, type: 'char' } : { value: v };
    case 'boolean':
      return { value: v };
    case 'bigint':
      return code === TC.Long || code === TC.SmallLong ? { value: v } : { value: v, type: 'ulong' };
    case 'number': {
      const t = typeNameOfCode(code);
      if (t === 'int') return { value: v };
      if (t === 'double' && !Number.isInteger(v)) return { value: v };
      return { value: v, type: t };
    }
    default:
      break;
  }
  if (v === null) return { value: null };
  if (Buffer.isBuffer(v)) return { value: v };
  if (v instanceof AmqpSymbol) return { value: v.value, type: 'symbol' };
  if (v instanceof AmqpUuid) return { value: v.toString(), type: 'uuid' };
  if (v instanceof AmqpTyped && Buffer.isBuffer(v.value)) return { value: v.value, type: v.type };
  return null;
}

/**
 * Decodes the bytes of one transfer (message format 0). Throws AmqpDecodeError when they are not
 * a well-formed AMQP message.
 */
export function decodeAmqpMessage(bytes: Buffer, opts: DecodeOptions): DecodedAmqpMessage {
  const now = opts.now ?? Date.now();
  const d = new Decoder(bytes);
  let header: unknown[] | undefined;
  let props: unknown[] | undefined;
  let maRaw: Buffer | undefined;
  let partitionKey: Buffer | undefined;
  let headers: Headers = {};
  let apTypes: Record<string, AmqpTypeName> | undefined;
  let bodyStart = -1;
  let bodyEnd = -1;
  const data: Buffer[] = [];
  let values = 0;
  let sequences: unknown[] | undefined;
  let value: unknown;
  let valueCode = 0;
  let footerRaw: Buffer | undefined;

  while (d.remaining > 0) {
    const start = d.pos;
    if (d.u8() !== 0x00) throw new AmqpDecodeError('expected a described message section');
    const code = sectionCode(d.readValue());
    switch (code) {
      case Section.Header: {
        const v = d.readValue();
        if (!Array.isArray(v)) throw new AmqpDecodeError('message header is not a list');
        header = v;
        break;
      }
      case Section.DeliveryAnnotations:
        d.readValue();
        break;
      case Section.MessageAnnotations: {
        const v = d.readValue();
        if (v instanceof AmqpMap) {
          const k = v.get(PARTITION_KEY);
          if (typeof k === 'string') partitionKey = Buffer.from(k);
          else if (Buffer.isBuffer(k)) partitionKey = k;
          if (v.size > 0) maRaw = Buffer.from(bytes.subarray(start, d.pos));
        } else if (v !== null) {
          throw new AmqpDecodeError('message annotations are not a map');
        }
        break;
      }
      case Section.Properties: {
        const v = d.readValue();
        if (!Array.isArray(v)) throw new AmqpDecodeError('message properties are not a list');
        props = v;
        break;
      }
      case Section.ApplicationProperties: {
        const c = d.u8();
        if (c === TC.Null) break;
        if (c !== TC.Map8 && c !== TC.Map32) throw new AmqpDecodeError('application properties are not a map');
        const wide = c === TC.Map32;
        const size = wide ? d.u32() : d.u8();
        const end = d.pos + size;
        if (end > d.end) throw new AmqpDecodeError('truncated application properties');
        const count = wide ? d.u32() : d.u8();
        if (count % 2 !== 0) throw new AmqpDecodeError('AMQP map with an odd number of elements');
        headers = {};
        for (let i = 0; i < count; i += 2) {
          const key = d.readValue();
          const val = d.readValue();
          const k = typeof key === 'string' ? key : key instanceof AmqpSymbol ? key.value : null;
          if (k === null) continue;
          const hv = headerValue(val, d.code);
          if (!hv) continue;
          headers[k] = hv.value;
          if (hv.type) (apTypes ??= {})[k] = hv.type;
        }
        if (d.pos !== end) throw new AmqpDecodeError('application properties size does not match their contents');
        break;
      }
      case Section.Data: {
        const v = d.readValue();
        if (!Buffer.isBuffer(v)) throw new AmqpDecodeError('data section is not binary');
        if (bodyStart < 0) bodyStart = start;
        bodyEnd = d.pos;
        data.push(v);
        break;
      }
      case Section.AmqpSequence: {
        const v = d.readValue();
        if (!Array.isArray(v)) throw new AmqpDecodeError('amqp-sequence section is not a list');
        if (bodyStart < 0) bodyStart = start;
        bodyEnd = d.pos;
        (sequences ??= []).push(v);
        break;
      }
      case Section.AmqpValue: {
        value = d.readValue();
        valueCode = d.code;
        if (bodyStart < 0) bodyStart = start;
        bodyEnd = d.pos;
        values++;
        break;
      }
      case Section.Footer: {
        d.readValue();
        footerRaw = Buffer.from(bytes.subarray(start, d.pos));
        break;
      }
      default:
        throw new AmqpDecodeError('unknown message section');
    }
  }

  const message: Message = { topic: '', payload: EMPTY, headers, timestamp: now, durable: false, source: 'amqp' };
  let ann: Record<string, HeaderValue> | undefined;
  const annotate = (k: string, v: HeaderValue): void => {
    (ann ??= {})[k] = v;
  };

  // body
  const bodyKinds = (data.length > 0 ? 1 : 0) + (sequences ? 1 : 0) + (values > 0 ? 1 : 0);
  if (bodyKinds === 0) {
    message.payload = EMPTY;
  } else if (bodyKinds === 1 && data.length === 1) {
    message.payload = data[0];
  } else if (bodyKinds === 1 && values === 1 && (valueCode === TC.Str8 || valueCode === TC.Str32)) {
    message.payload = Buffer.from(value as string, 'utf8');
    message.text = true;
  } else {
    annotate(A.body, Buffer.from(bytes.subarray(bodyStart, bodyEnd)));
    if (data.length > 0 && bodyKinds === 1) {
      message.payload = Buffer.concat(data);
    } else if (values === 1 && bodyKinds === 1 && Buffer.isBuffer(value)) {
      message.payload = value;
    } else if (values === 1 && bodyKinds === 1 && value === null) {
      message.payload = EMPTY;
    } else {
      const json = sequences && bodyKinds === 1 ? amqpToJson(sequences.length === 1 ? sequences[0] : sequences) : amqpToJson(value);
      message.payload = Buffer.from(JSON.stringify(json), 'utf8');
      message.text = true;
    }
  }

  // header
  let ttl: number | undefined;
  if (header) {
    if (header[0] === true) message.durable = true;
    const priority = num(header[1]);
    if (priority !== undefined) message.priority = Math.min(9, Math.max(0, priority));
    ttl = num(header[2]);
  }

  let to: string | undefined;
  let userId: Buffer | undefined;
  if (props) {
    const mid = coreId(props[0], false);
    if (typeof mid.id === 'string') message.messageId = mid.id;
    if (mid.type) annotate(A.messageIdType, mid.type);
    if (Buffer.isBuffer(props[1])) {
      userId = props[1];
      annotate(A.userId, userId);
    }
    to = str(props[2]);
    if (to !== undefined) annotate(A.to, to);
    const subject = str(props[3]);
    if (subject !== undefined) annotate(A.subject, subject);
    const replyTo = str(props[4]);
    if (replyTo !== undefined) {
      const core = replyToCore(replyTo, opts.bareName);
      message.replyTo = core;
      if (core !== replyTo) annotate(A.replyTo, replyTo);
    }
    const cid = coreId(props[5], true);
    if (cid.id !== undefined) message.correlationId = cid.id;
    if (cid.type) annotate(A.correlationIdType, cid.type);
    const ct = sym(props[6]);
    if (ct !== undefined) message.contentType = ct;
    const ce = sym(props[7]);
    if (ce !== undefined) message.contentEncoding = ce;
    const aet = num(props[8]);
    if (aet !== undefined && aet > 0) {
      message.expiry = aet;
      annotate(A.absoluteExpiry, aet);
    }
    const created = num(props[9]);
    if (created !== undefined) message.timestamp = created;
    else annotate(A.noCreationTime, true);
    const gid = str(props[10]);
    if (gid !== undefined) annotate(A.groupId, gid);
    const gseq = num(props[11]);
    if (gseq !== undefined) annotate(A.groupSequence, gseq);
    const rtg = str(props[12]);
    if (rtg !== undefined) annotate(A.replyToGroupId, rtg);
  } else {
    annotate(A.noCreationTime, true);
  }
  if (ttl !== undefined && ttl > 0) {
    const byTtl = now + ttl;
    if (message.expiry === undefined || byTtl < message.expiry) message.expiry = byTtl;
  }
  if (partitionKey) message.key = partitionKey;
  if (maRaw) annotate(A.messageAnnotations, maRaw);
  if (apTypes) annotate(A.apTypes, JSON.stringify(apTypes));
  if (footerRaw) annotate(A.footer, footerRaw);
  if (ann) message.annotations = ann;
  return { message, to, userId };
}

const EMPTY = Buffer.alloc(0);

export interface EncodeOptions {
  /** Failed delivery attempts so far (header.delivery-count). */
  deliveryCount: number;
  /** Not delivered before (header.first-acquirer). */
  firstAcquirer: boolean;
  /** The queue it is delivered from: gives `to` for messages from other protocols. */
  queue: string;
  now?: number;
}

function annotation(m: Message, key: string): HeaderValue | undefined {
  return m.annotations?.[key];
}

/** Writes a list, leaving out trailing nulls (`fields` are writer callbacks, undefined = null). */
function writeList(e: Encoder, fields: Array<(() => void) | undefined>): void {
  let last = fields.length - 1;
  while (last >= 0 && fields[last] === undefined) last--;
  const mark = e.beginCompound();
  for (let i = 0; i <= last; i++) {
    const f = fields[i];
    if (f) f();
    else e.null();
  }
  e.endCompound(mark, last + 1, false);
}

function writeId(e: Encoder, id: string | Buffer, type: HeaderValue | undefined): void {
  if (Buffer.isBuffer(id)) return e.binary(id);
  if (type === 'ulong' && /^\d+$/.test(id)) return e.ulong(BigInt(id));
  if (type === 'uuid') {
    const u = AmqpUuid.parse(id);
    if (u) return e.uuid(u.bytes);
  }
  if (type === 'binary' && /^([0-9a-f]{2})*$/.test(id)) return e.binary(Buffer.from(id, 'hex'));
  e.string(id);
}

function isUtf8(b: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

/** Encodes a core message as the bytes of one AMQP transfer (message format 0). */
export function encodeAmqpMessage(m: Message, o: EncodeOptions): Buffer {
  const e = new Encoder(m.payload.length + 192);
  const now = o.now ?? Date.now();
  const fromAmqp = m.source === 'amqp';

  // header
  const ttl = m.expiry !== undefined ? Math.max(1, Math.min(0xffffffff, Math.round(m.expiry - now))) : undefined;
  const priority = m.priority !== undefined && m.priority !== 4 ? m.priority : undefined;
  if (m.durable || priority !== undefined || ttl !== undefined || o.firstAcquirer || o.deliveryCount > 0) {
    e.descriptor(Section.Header);
    writeList(e, [
      m.durable ? () => e.boolean(true) : undefined,
      priority !== undefined ? () => e.ubyte(priority) : undefined,
      ttl !== undefined ? () => e.uint(ttl) : undefined,
      o.firstAcquirer ? () => e.boolean(true) : undefined,
      o.deliveryCount > 0 ? () => e.uint(o.deliveryCount) : undefined,
    ]);
  }

  // message annotations
  const ma = annotation(m, A.messageAnnotations);
  if (Buffer.isBuffer(ma)) {
    e.raw(ma);
  } else if (m.key) {
    e.descriptor(Section.MessageAnnotations);
    const mark = e.beginCompound();
    e.symbol(PARTITION_KEY);
    const key = m.key;
    if (isUtf8(key)) e.string(key.toString('utf8'));
    else e.binary(key);
    e.endCompound(mark, 2, true);
  }

  // properties
  const userId = annotation(m, A.userId);
  // Where the message went: a wildcard subscriber learns the topic (AMQP senders' own `to` is kept).
  const to = annotation(m, A.to) ?? (o.queue === m.topic ? `/queue/${o.queue}` : `/topic/${m.topic}`);
  const subject = annotation(m, A.subject);
  const replyTo = annotation(m, A.replyTo) ?? m.replyTo;
  const aet = annotation(m, A.absoluteExpiry) ?? (!fromAmqp ? m.expiry : undefined);
  const noCreation = annotation(m, A.noCreationTime) === true;
  const groupId = annotation(m, A.groupId);
  const groupSeq = annotation(m, A.groupSequence);
  const rtg = annotation(m, A.replyToGroupId);
  const propFields: Array<(() => void) | undefined> = [
    m.messageId !== undefined ? () => writeId(e, m.messageId!, annotation(m, A.messageIdType)) : undefined,
    Buffer.isBuffer(userId) ? () => e.binary(userId) : undefined,
    typeof to === 'string' ? () => e.string(to) : undefined,
    typeof subject === 'string' ? () => e.string(subject) : undefined,
    typeof replyTo === 'string' ? () => e.string(replyTo) : undefined,
    m.correlationId !== undefined ? () => writeId(e, m.correlationId!, annotation(m, A.correlationIdType)) : undefined,
    m.contentType !== undefined ? () => e.symbol(m.contentType!) : undefined,
    m.contentEncoding !== undefined ? () => e.symbol(m.contentEncoding!) : undefined,
    typeof aet === 'number' ? () => e.timestamp(aet) : undefined,
    !noCreation ? () => e.timestamp(m.timestamp) : undefined,
    typeof groupId === 'string' ? () => e.string(groupId) : undefined,
    typeof groupSeq === 'number' ? () => e.uint(groupSeq) : undefined,
    typeof rtg === 'string' ? () => e.string(rtg) : undefined,
  ];
  if (propFields.some((f) => f !== undefined)) {
    e.descriptor(Section.Properties);
    writeList(e, propFields);
  }

  // application properties
  const keys = Object.keys(m.headers);
  if (keys.length > 0) {
    const typesText = annotation(m, A.apTypes);
    let types: Record<string, AmqpTypeName> | undefined;
    if (typeof typesText === 'string') {
      try {
        types = JSON.parse(typesText) as Record<string, AmqpTypeName>;
      } catch {
        types = undefined;
      }
    }
    e.descriptor(Section.ApplicationProperties);
    const mark = e.beginCompound();
    for (const k of keys) {
      e.string(k);
      const v = m.headers[k];
      const t = types?.[k];
      if (t) e.typed(t, v);
      else e.value(v);
    }
    e.endCompound(mark, keys.length * 2, true);
  }

  // body
  const raw = annotation(m, A.body);
  if (Buffer.isBuffer(raw)) {
    e.raw(raw);
  } else if (m.text && fromAmqp) {
    e.descriptor(Section.AmqpValue);
    e.string(m.payload.toString('utf8'));
  } else {
    e.descriptor(Section.Data);
    e.binary(m.payload);
  }
  const footer = annotation(m, A.footer);
  if (Buffer.isBuffer(footer)) e.raw(footer);
  return e.finish();
}
