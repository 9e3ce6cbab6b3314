/**
 * Packet I/O. Incoming bytes are framed here first (fixed header and remaining length), so an
 * oversize packet is refused from its header before any of it is buffered, and only whole packets
 * reach mqtt-packet's parser (which then holds no partial state). Strings are checked for
 * well-formed UTF-8 and U+0000 as MQTT requires (mqtt-packet decodes them leniently).
 *
 * Outgoing: PUBLISH and the acknowledgements, the hot path, have a small encoder here (a PUBLISH
 * is encoded once per message and variant and only its packet identifier patched per
 * subscriber); every other packet is written by mqtt-packet's generator.
 */
import { isUtf8 } from 'node:buffer';
import mqttPacket from 'mqtt-packet';
import type { IPublishPacket, Packet } from 'mqtt-packet';

export type { Packet } from 'mqtt-packet';

export const MAX_REMAINING_LENGTH = 268_435_455;

export type FrameError = { kind: 'oversize'; size: number } | { kind: 'malformed'; reason: string };

/** Splits a byte stream into whole MQTT packets. */
export class Framer {
  private chunks: Buffer[] = [];
  private length = 0;
  /** Total size of the packet at the head of the pending bytes, once its header is known. */
  private need = 0;

  constructor(
    private readonly maxSize: () => number,
    /** One whole packet: chunk[start, end), its variable header starting at `body`. */
    private readonly onPacket: (chunk: Buffer, start: number, body: number, end: number) => void,
    private readonly onError: (err: FrameError) => void,
  ) {}

  /** Set once the connection is failing: nothing more is delivered. */
  stopped = false;

  get buffered(): number {
    return this.length;
  }

  push(chunk: Buffer): void {
    if (this.length > 0) {
      this.chunks.push(chunk);
      this.length += chunk.length;
      if (this.need > 0 && this.length < this.need) return;
      chunk = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.length);
      this.chunks = [];
      this.length = 0;
    }
    this.need = 0;
    let pos = 0;
    const end = chunk.length;
    const max = this.maxSize();
    while (pos < end) {
      if (end - pos < 2) break;
      let remaining = 0;
      let mul = 1;
      let i = pos + 1;
      let complete = false;
      for (let n = 0; n < 4 && i < end; n++, i++) {
        const b = chunk[i];
        remaining += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
        if (n === 3) {
          this.onError({ kind: 'malformed', reason: 'invalid remaining length' });
          return;
        }
      }
      if (!complete) break;
      const total = i - pos + remaining;
      if (total > max) {
        this.onError({ kind: 'oversize', size: total });
        return;
      }
      if (pos + total > end) {
        this.need = total;
        break;
      }
      this.onPacket(chunk, pos, i, pos + total);
      if (this.stopped) return;
      pos += total;
    }
    if (pos < end) {
      this.chunks.push(chunk.subarray(pos));
      this.length = end - pos;
    }
  }
}

/** Marks set on a parsed packet by the UTF-8 check. */
export interface PacketFlags {
  /** A string field was not well-formed UTF-8 or contained U+0000. */
  badString?: boolean;
}

interface InternalParser {
  _parseString(): string | null;
  _pos: number;
  _list: { slice(start: number, end: number): Buffer };
  packet: PacketFlags;
  on(event: 'packet', cb: (p: Packet) => void): void;
  on(event: 'error', cb: (e: Error) => void): void;
  parse(buf: Buffer): number;
}

export interface PacketParser {
  parse(buf: Buffer): void;
}

/** mqtt-packet's parser with the UTF-8 / U+0000 check on every string it reads. */
export function createParser(onPacket: (p: Packet & PacketFlags) => void, onError: (e: Error) => void, protocolVersion?: number): PacketParser {
  const p = mqttPacket.parser(protocolVersion ? { protocolVersion } : {}) as unknown as InternalParser;
  const parseString = p._parseString;
  p._parseString = function checkedParseString(this: InternalParser): string | null {
    const start = this._pos;
    const s = parseString.call(this);
    if (s !== null && s.length > 0 && (s.includes('\ufffd') || s.includes('\u0000'))) {
      if (s.includes('\u0000') || !isUtf8(this._list.slice(start + 2, this._pos))) this.packet.badString = true;
    }
    return s;
  };
  p.on('packet', onPacket);
  p.on('error', onError);
  return p;
}

/**
 * Fast path for the hottest packet: a PUBLISH without MQTT 5 properties, read straight from the
 * frame (no copy, no per-packet parser state). Returns null when mqtt-packet must parse it
 * (properties present), 'malformed' when it is broken, or the packet.
 */
export function parsePublishFast(buf: Buffer, start: number, body: number, end: number, v5: boolean): IPublishPacket | null | 'malformed' {
  const b0 = buf[start];
  const qos = (b0 >> 1) & 3;
  if (qos === 3) return 'malformed';
  if (end - body < 2) return 'malformed';
  const topicLen = buf.readUInt16BE(body);
  let pos = body + 2 + topicLen;
  if (pos > end) return 'malformed';
  let messageId: number | undefined;
  if (qos > 0) {
    if (pos + 2 > end) return 'malformed';
    messageId = buf.readUInt16BE(pos);
    pos += 2;
  }
  if (v5) {
    if (pos >= end) return 'malformed';
    if (buf[pos] !== 0) return null;
    pos++;
  }
  const topic = buf.toString('utf8', body + 2, body + 2 + topicLen);
  const p = { cmd: 'publish', topic, payload: buf.subarray(pos, end), qos: qos as 0 | 1 | 2, dup: (b0 & 8) !== 0, retain: (b0 & 1) !== 0, messageId } as IPublishPacket & PacketFlags;
  if (topic.includes('\ufffd') && !isUtf8(buf.subarray(body + 2, body + 2 + topicLen))) p.badString = true;
  return p;
}

const ACK_CMDS = [undefined, undefined, undefined, undefined, 'puback', 'pubrec', 'pubrel', 'pubcomp'] as const;

/**
 * Structural checks mqtt-packet leaves out, made on every whole packet before it is parsed:
 * mqtt-packet reports an acknowledgement too short for its packet identifier as id -1 rather
 * than as an error. Returns why the packet is malformed, or null.
 */
export function frameProblem(buf: Buffer, start: number, body: number, end: number, version: number): string | null {
  const type = buf[start] >> 4;
  const length = end - body;
  if (type >= 4 && type <= 7) {
    if (length < 2) return `${ACK_CMDS[type]} of ${length} bytes has no packet identifier`;
    if (version !== 5 && length !== 2) return `${ACK_CMDS[type]} of ${length} bytes (MQTT 3.1.1 requires 2)`;
    return null;
  }
  if ((type === 8 || type === 10) && length < 3) return `${type === 8 ? 'subscribe' : 'unsubscribe'} of ${length} bytes has no topic filter`;
  return null;
}

/** Fast path for PUBACK / PUBREC / PUBREL / PUBCOMP with no reason code (2 bytes): the packet, or null. */
export function parseAckFast(buf: Buffer, start: number, body: number, end: number): Packet | null {
  const type = buf[start] >> 4;
  const cmd = ACK_CMDS[type];
  if (!cmd || end - body !== 2) return null;
  if ((buf[start] & 0x0f) !== (type === 6 ? 2 : 0)) return null;
  return { cmd, messageId: buf.readUInt16BE(body) } as Packet;
}

const PINGREQ_PACKET = Object.freeze({ cmd: 'pingreq' }) as Packet;
const DISCONNECT_PACKET = Object.freeze({ cmd: 'disconnect' }) as Packet;

/** PINGREQ and an MQTT 3.1.1-style DISCONNECT (no body): shared packet objects, or null. */
export function parseEmptyFast(buf: Buffer, start: number, body: number, end: number): Packet | null {
  if (end !== body) return null;
  const b0 = buf[start];
  if (b0 === 0xc0) return PINGREQ_PACKET;
  if (b0 === 0xe0) return DISCONNECT_PACKET;
  return null;
}

/** Writes any packet with mqtt-packet's generator. */
export function generate(packet: Packet, protocolVersion: number): Buffer {
  return mqttPacket.generate(packet, { protocolVersion });
}

// ---- fast encoders ----------------------------------------------------------------------------

export function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    buf[pos++] = b;
  } while (n > 0);
  return pos;
}

/** MQTT 5 PUBLISH properties (server to client). */
export interface PublishProps {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  subscriptionIdentifiers?: number[];
  topicAlias?: number;
  userProperties?: Array<[string, string]>;
}

/** Encodes PUBLISH properties as their length-prefixed block. */
export function encodePublishProps(p: PublishProps | undefined): Buffer {
  if (!p) return EMPTY_PROPS;
  let size = 0;
  if (p.payloadFormatIndicator) size += 2;
  if (p.messageExpiryInterval !== undefined) size += 5;
  const ct = p.contentType !== undefined ? Buffer.byteLength(p.contentType) : -1;
  if (ct >= 0) size += 3 + ct;
  const rt = p.responseTopic !== undefined ? Buffer.byteLength(p.responseTopic) : -1;
  if (rt >= 0) size += 3 + rt;
  if (p.correlationData) size += 3 + p.correlationData.length;
  if (p.subscriptionIdentifiers) for (const id of p.subscriptionIdentifiers) size += 1 + varintSize(id);
  if (p.topicAlias !== undefined) size += 3;
  if (p.userProperties) for (const [k, v] of p.userProperties) size += 5 + Buffer.byteLength(k) + Buffer.byteLength(v);
  if (size === 0) return EMPTY_PROPS;
  const buf = Buffer.allocUnsafe(varintSize(size) + size);
  let pos = writeVarint(buf, 0, size);
  if (p.payloadFormatIndicator) { buf[pos++] = 0x01; buf[pos++] = 1; }
  if (p.messageExpiryInterval !== undefined) { buf[pos++] = 0x02; buf.writeUInt32BE(p.messageExpiryInterval, pos); pos += 4; }
  if (ct >= 0) { buf[pos++] = 0x03; buf.writeUInt16BE(ct, pos); pos += 2; pos += buf.write(p.contentType!, pos); }
  if (rt >= 0) { buf[pos++] = 0x08; buf.writeUInt16BE(rt, pos); pos += 2; pos += buf.write(p.responseTopic!, pos); }
  if (p.correlationData) { buf[pos++] = 0x09; buf.writeUInt16BE(p.correlationData.length, pos); pos += 2; pos += p.correlationData.copy(buf, pos); }
  if (p.subscriptionIdentifiers) for (const id of p.subscriptionIdentifiers) { buf[pos++] = 0x0b; pos = writeVarint(buf, pos, id); }
  if (p.topicAlias !== undefined) { buf[pos++] = 0x23; buf.writeUInt16BE(p.topicAlias, pos); pos += 2; }
  if (p.userProperties) {
    for (const [k, v] of p.userProperties) {
      buf[pos++] = 0x26;
      const kl = buf.write(k, pos + 2);
      buf.writeUInt16BE(kl, pos);
      pos += 2 + kl;
      const vl = buf.write(v, pos + 2);
      buf.writeUInt16BE(vl, pos);
      pos += 2 + vl;
    }
  }
  return buf;
}

const EMPTY_PROPS = Buffer.from([0]);

export interface EncodedPublish {
  buf: Buffer;
  /** Offset of the packet identifier (QoS > 0), to patch per delivery. */
  idOffset: number;
}

/** Encodes a PUBLISH. `props` is an encoded property block (MQTT 5 only; null for 3.1/3.1.1). */
export function encodePublish(topic: Buffer, payload: Buffer, qos: number, retain: boolean, dup: boolean, packetId: number, props: Buffer | null): EncodedPublish {
  const remaining = 2 + topic.length + (qos > 0 ? 2 : 0) + (props ? props.length : 0) + payload.length;
  if (topic.length > 65535) throw new RangeError('topic longer than 65535 bytes');
  if (remaining > MAX_REMAINING_LENGTH) throw new RangeError('PUBLISH larger than MQTT allows');
  const headerLen = 1 + varintSize(remaining);
  const buf = Buffer.allocUnsafe(headerLen + remaining);
  buf[0] = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0);
  let pos = writeVarint(buf, 1, remaining);
  buf.writeUInt16BE(topic.length, pos);
  pos += 2;
  pos += topic.copy(buf, pos);
  const idOffset = pos;
  if (qos > 0) {
    buf.writeUInt16BE(packetId, pos);
    pos += 2;
  }
  if (props) pos += props.copy(buf, pos);
  payload.copy(buf, pos);
  return { buf, idOffset };
}

/** Size of the PUBLISH encodePublish would produce. */
export function publishSize(topicLen: number, payloadLen: number, qos: number, propsLen: number): number {
  const remaining = 2 + topicLen + (qos > 0 ? 2 : 0) + propsLen + payloadLen;
  return 1 + varintSize(remaining) + remaining;
}

const ACK_TYPES = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 } as const;
export type AckType = keyof typeof ACK_TYPES;

/** PUBACK / PUBREC / PUBREL / PUBCOMP with an optional reason code (MQTT 5; omitted when 0). */
export function encodeAck(type: AckType, packetId: number, v5: boolean, reasonCode = 0, reasonString?: string): Buffer {
  if (v5 && reasonString !== undefined) {
    return generate({ cmd: type, messageId: packetId, reasonCode, properties: { reasonString } } as Packet, 5);
  }
  const withCode = v5 && reasonCode !== 0;
  const buf = Buffer.allocUnsafe(withCode ? 5 : 4);
  buf[0] = ACK_TYPES[type];
  buf[1] = withCode ? 3 : 2;
  buf.writeUInt16BE(packetId, 2);
  if (withCode) buf[4] = reasonCode;
  return buf;
}

export const PINGRESP = Buffer.from([0xd0, 0x00]);
