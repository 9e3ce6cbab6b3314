/**
 * Primitive Kafka wire types: big-endian fixed-width integers, legacy (int16/int32-prefixed) and
 * compact (unsigned-varint-prefixed, KIP-482) strings, bytes and arrays, UUIDs and tagged-field
 * headers. The reader never trusts a length: every read is bounds-checked and a count larger than
 * the bytes left is refused before anything is allocated.
 */

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const utf8 = new TextDecoder('utf-8', { fatal: false });

export class KafkaReader {
  pos: number;
  constructor(readonly buf: Buffer, pos = 0, readonly end = buf.length) {
    this.pos = pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new ProtocolError('request runs past its end');
  }

  int8(): number { this.need(1); return this.buf.readInt8(this.pos++); }
  bool(): boolean { return this.int8() !== 0; }
  int16(): number { this.need(2); const v = this.buf.readInt16BE(this.pos); this.pos += 2; return v; }
  uint16(): number { this.need(2); const v = this.buf.readUInt16BE(this.pos); this.pos += 2; return v; }
  int32(): number { this.need(4); const v = this.buf.readInt32BE(this.pos); this.pos += 4; return v; }
  uint32(): number { this.need(4); const v = this.buf.readUInt32BE(this.pos); this.pos += 4; return v; }
  float64(): number { this.need(8); const v = this.buf.readDoubleBE(this.pos); this.pos += 8; return v; }

  /** int64 as a number: exact up to 2^53, which covers offsets, timestamps and producer ids in practice. */
  int64(): number {
    this.need(8);
    const hi = this.buf.readInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    if (hi >= -0x200000 && hi < 0x200000) return hi * 0x100000000 + lo;
    const big = this.buf.readBigInt64BE(this.pos - 8);
    return Number(big > MAX_SAFE ? MAX_SAFE : big < MIN_SAFE ? MIN_SAFE : big);
  }

  uvarint(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      this.need(1);
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new ProtocolError('unsigned varint is too long');
  }

  uuid(): Buffer { this.need(16); const v = this.buf.subarray(this.pos, this.pos + 16); this.pos += 16; return v; }

  raw(n: number): Buffer {
    if (n < 0) throw new ProtocolError('negative length');
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Legacy string (int16 length) or compact string (uvarint length+1); null when the length says so. */
  string(compact: boolean): string | null {
    const len = compact ? this.uvarint() - 1 : this.int16();
    if (len < 0) return null;
    this.need(len);
    const s = utf8.decode(this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }

  bytes(compact: boolean): Buffer | null {
    const len = compact ? this.uvarint() - 1 : this.int32();
    if (len < 0) return null;
    return this.raw(len);
  }

  /** Array element count; null for a null array. Refuses counts that cannot fit in the bytes left. */
  arrayLength(compact: boolean, minElementSize = 1): number | null {
    const n = compact ? this.uvarint() - 1 : this.int32();
    if (n < 0) return null;
    if (n * Math.max(minElementSize, 0) > this.remaining || (minElementSize === 0 && n > this.remaining + 1024)) {
      throw new ProtocolError(`array of ${n} elements does not fit in the request`);
    }
    return n;
  }

  /** Skips a tagged-field section, returning the tags and their raw bytes. */
  taggedFields(): Array<{ tag: number; data: Buffer }> {
    const n = this.uvarint();
    if (n > this.remaining) throw new ProtocolError('too many tagged fields');
    const out: Array<{ tag: number; data: Buffer }> = [];
    for (let i = 0; i < n; i++) {
      const tag = this.uvarint();
      const size = this.uvarint();
      out.push({ tag, data: this.raw(size) });
    }
    return out;
  }
}

/**
 * A growable writer that can splice in caller-owned buffers (stored record batches) without
 * copying them: the result is a list of chunks written to the socket as they are.
 */
export class KafkaWriter {
  private buf: Buffer;
  private pos = 0;
  /** Start of the part of `buf` not yet moved into `chunks`. */
  private mark = 0;
  private readonly chunks: Buffer[] = [];
  private chunkBytes = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.chunkBytes + this.pos - this.mark;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flushOwn();
    const size = Math.max(n, this.buf.length * 2, 256);
    this.buf = Buffer.allocUnsafe(size);
    this.pos = 0;
    this.mark = 0;
  }

  private flushOwn(): void {
    if (this.pos > this.mark) {
      const part = this.buf.subarray(this.mark, this.pos);
      this.chunks.push(part);
      this.chunkBytes += part.length;
      this.mark = this.pos;
    }
  }

  int8(v: number): this { this.ensure(1); this.buf.writeInt8(v, this.pos); this.pos += 1; return this; }
  bool(v: boolean): this { return this.int8(v ? 1 : 0); }
  int16(v: number): this { this.ensure(2); this.buf.writeInt16BE(v, this.pos); this.pos += 2; return this; }
  uint16(v: number): this { this.ensure(2); this.buf.writeUInt16BE(v, this.pos); this.pos += 2; return this; }
  int32(v: number): this { this.ensure(4); this.buf.writeInt32BE(v | 0, this.pos); this.pos += 4; return this; }
  uint32(v: number): this { this.ensure(4); this.buf.writeUInt32BE(v >>> 0, this.pos); this.pos += 4; return this; }
  float64(v: number): this { this.ensure(8); this.buf.writeDoubleBE(v, this.pos); this.pos += 8; return this; }

  int64(v: number | bigint): this {
    this.ensure(8);
    if (typeof v === 'bigint') {
      this.buf.writeBigInt64BE(v, this.pos);
    } else if (Number.isSafeInteger(v)) {
      const hi = Math.floor(v / 0x100000000);
      this.buf.writeInt32BE(hi, this.pos);
      this.buf.writeUInt32BE(v - hi * 0x100000000, this.pos + 4);
    } else {
      this.buf.writeBigInt64BE(v > 0 ? 0x7fffffffffffffffn : -0x8000000000000000n, this.pos);
    }
    this.pos += 8;
    return this;
  }

  uvarint(v: number): this {
    this.ensure(5);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  raw(b: Buffer): this {
    if (b.length > 4096) {
      this.flushOwn();
      this.chunks.push(b);
      this.chunkBytes += b.length;
    } else {
      this.ensure(b.length);
      b.copy(this.buf, this.pos);
      this.pos += b.length;
    }
    return this;
  }

  uuid(b: Buffer | null | undefined): this {
    this.ensure(16);
    if (b && b.length === 16) b.copy(this.buf, this.pos);
    else this.buf.fill(0, this.pos, this.pos + 16);
    this.pos += 16;
    return this;
  }

  string(s: string | null | undefined, compact: boolean): this {
    if (s === null || s === undefined) return compact ? this.uvarint(0) : this.int16(-1);
    const len = Buffer.byteLength(s, 'utf8');
    if (compact) this.uvarint(len + 1);
    else this.int16(len);
    this.ensure(len);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += len;
    return this;
  }

  bytes(b: Buffer | null | undefined, compact: boolean): this {
    if (b === null || b === undefined) return compact ? this.uvarint(0) : this.int32(-1);
    if (compact) this.uvarint(b.length + 1);
    else this.int32(b.length);
    return this.raw(b);
  }

  /** Bytes made of several buffers (a fetch response's record batches), spliced in without a copy. */
  chunkedBytes(parts: readonly Buffer[], compact: boolean): this {
    let total = 0;
    for (const p of parts) total += p.length;
    if (compact) this.uvarint(total + 1);
    else this.int32(total);
    for (const p of parts) this.raw(p);
    return this;
  }

  arrayLength(n: number | null, compact: boolean): this {
    if (n === null) return compact ? this.uvarint(0) : this.int32(-1);
    return compact ? this.uvarint(n + 1) : this.int32(n);
  }

  /** The written bytes as chunks (shared with the writer's buffers and any spliced buffers). */
  toChunks(): Buffer[] {
    this.flushOwn();
    return this.chunks;
  }

  toBuffer(): Buffer {
    const chunks = this.toChunks();
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.chunkBytes);
  }
}

