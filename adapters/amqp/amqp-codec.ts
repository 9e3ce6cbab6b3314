/**
 * The AMQP 1.0 type system (spec part 1), for message sections and the few described values the
 * adapter reads itself (transaction coordinator, delivery states). rhea's own codec drops type
 * information (every integer becomes a JS number, longs past 2^53 become raw buffers) and is
 * slower; this one keeps what the message mapping needs:
 *
 *   null, boolean, string, binary (Buffer) map to themselves; every integer up to 32 bits, float
 *   and double decode to number; long and ulong to bigint; timestamp to number (ms); char to
 *   string; symbol to AmqpSymbol; uuid to AmqpUuid; decimals to AmqpTyped; list and array to JS
 *   arrays; map to AmqpMap (ordered entries, any key type); described to AmqpDescribed.
 *   `Decoder.code` tells the constructor of the last value read, so callers can keep the exact type.
 *
 * Every read is bounds-checked and nesting is limited: malformed input raises AmqpDecodeError.
 */

export class AmqpDecodeError extends Error {
  override readonly name = 'AmqpDecodeError';
}

export class AmqpSymbol {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export class AmqpUuid {
  constructor(readonly bytes: Buffer) {}
  toString(): string {
    const h = this.bytes.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  static parse(s: string): AmqpUuid | null {
    const hex = s.replace(/-/g, '');
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) return null;
    return new AmqpUuid(Buffer.from(hex, 'hex'));
  }
}

export class AmqpDescribed {
  constructor(readonly descriptor: unknown, readonly value: unknown) {}
  /** True when the descriptor is the numeric `code` or the symbolic `name`. */
  is(code: number, name: string): boolean {
    const d = this.descriptor;
    if (typeof d === 'bigint') return d === BigInt(code);
    if (typeof d === 'number') return d === code;
    return d instanceof AmqpSymbol && d.value === name;
  }
}

export type AmqpTypeName =
  | 'ubyte' | 'ushort' | 'uint' | 'ulong' | 'byte' | 'short' | 'int' | 'long' | 'float' | 'double'
  | 'timestamp' | 'char' | 'symbol' | 'uuid' | 'decimal32' | 'decimal64' | 'decimal128';

/** A value with an explicit AMQP type, for encoding (and decimals when decoding). */
export class AmqpTyped {
  constructor(readonly type: AmqpTypeName, readonly value: unknown) {}
}

/** Bytes already encoded as one or more AMQP values, written as they are. */
export class AmqpRaw {
  constructor(readonly bytes: Buffer) {}
}

/** A homogeneous array (encoding): every element written with the constructor of `type`. */
export class AmqpArray {
  constructor(readonly type: 'symbol' | 'string', readonly items: string[]) {}
}

export class AmqpMap {
  constructor(readonly entries: Array<[unknown, unknown]> = []) {}
  /** Value of the first entry whose key is the string or symbol `name`. */
  get(name: string): unknown {
    for (const [k, v] of this.entries) {
      if (k === name || (k instanceof AmqpSymbol && k.value === name)) return v;
    }
    return undefined;
  }
  get size(): number {
    return this.entries.length;
  }
}

/** Constructor codes (spec part 1.6). */
export const enum TC {
  Described = 0x00, Null = 0x40, True = 0x41, False = 0x42, Uint0 = 0x43, Ulong0 = 0x44, List0 = 0x45,
  Ubyte = 0x50, Byte = 0x51, SmallUint = 0x52, SmallUlong = 0x53, SmallInt = 0x54, SmallLong = 0x55, Boolean = 0x56,
  Ushort = 0x60, Short = 0x61, Uint = 0x70, Int = 0x71, Float = 0x72, Char = 0x73, Decimal32 = 0x74,
  Ulong = 0x80, Long = 0x81, Double = 0x82, Timestamp = 0x83, Decimal64 = 0x84, Decimal128 = 0x94, Uuid = 0x98,
  Vbin8 = 0xa0, Str8 = 0xa1, Sym8 = 0xa3, Vbin32 = 0xb0, Str32 = 0xb1, Sym32 = 0xb3,
  List8 = 0xc0, Map8 = 0xc1, List32 = 0xd0, Map32 = 0xd1, Array8 = 0xe0, Array32 = 0xf0,
}

const MAX_DEPTH = 32;
/** Elements of an array whose element type has no bytes (null, true...): bounded separately. */
const MAX_EMPTY_ELEMENTS = 65536;

export class Decoder {
  pos: number;
  /** Where reading stops (narrowed while inside a compound). */
  end: number;
  /** Constructor code of the last value returned by readValue() (0 for a described value). */
  code = 0;
  private depth = 0;

  constructor(readonly buf: Buffer, pos = 0, end = buf.length) {
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw new AmqpDecodeError(`truncated AMQP value at byte ${this.pos}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  private u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  private bytes(n: number): Buffer {
    this.need(n);
    const b = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }

  private str(n: number, encoding: BufferEncoding): string {
    this.need(n);
    const s = this.buf.toString(encoding, this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  /** Reads one value. */
  readValue(): unknown {
    const c = this.u8();
    if (c === TC.Described) {
      if (++this.depth > MAX_DEPTH) throw new AmqpDecodeError('AMQP value nested too deeply');
      const descriptor = this.readValue();
      const value = this.readValue();
      this.depth--;
      this.code = TC.Described;
      return new AmqpDescribed(descriptor, value);
    }
    const v = this.readBody(c);
    this.code = c;
    return v;
  }

  /** Skips one value (bounds-checked), returning the code of its constructor. */
  skipValue(): number {
    const start = this.pos;
    this.readValue();
    const c = this.buf[start];
    return c;
  }

  /** The value encoded with constructor `c` (the constructor byte already read). */
  private readBody(c: number): unknown {
    const b = this.buf;
    switch (c) {
      case TC.Null: return null;
      case TC.True: return true;
      case TC.False: return false;
      case TC.Boolean: return this.u8() !== 0;
      case TC.Uint0: return 0;
      case TC.Ulong0: return 0n;
      case TC.List0: return [];
      case TC.Ubyte: case TC.SmallUint: return this.u8();
      case TC.SmallUlong: return BigInt(this.u8());
      case TC.Byte: case TC.SmallInt: { this.need(1); return b.readInt8(this.pos++); }
      case TC.SmallLong: { this.need(1); return BigInt(b.readInt8(this.pos++)); }
      case TC.Ushort: return this.u16();
      case TC.Short: { this.need(2); const v = b.readInt16BE(this.pos); this.pos += 2; return v; }
      case TC.Uint: return this.u32();
      case TC.Int: { this.need(4); const v = b.readInt32BE(this.pos); this.pos += 4; return v; }
      case TC.Float: { this.need(4); const v = b.readFloatBE(this.pos); this.pos += 4; return v; }
      case TC.Char: { const cp = this.u32(); if (cp > 0x10ffff) throw new AmqpDecodeError('invalid char'); return String.fromCodePoint(cp); }
      case TC.Decimal32: return new AmqpTyped('decimal32', this.bytes(4));
      case TC.Ulong: { this.need(8); const v = b.readBigUInt64BE(this.pos); this.pos += 8; return v; }
      case TC.Long: { this.need(8); const v = b.readBigInt64BE(this.pos); this.pos += 8; return v; }
      case TC.Double: { this.need(8); const v = b.readDoubleBE(this.pos); this.pos += 8; return v; }
      case TC.Timestamp: { this.need(8); const v = Number(b.readBigInt64BE(this.pos)); this.pos += 8; return v; }
      case TC.Decimal64: return new AmqpTyped('decimal64', this.bytes(8));
      case TC.Decimal128: return new AmqpTyped('decimal128', this.bytes(16));
      case TC.Uuid: return new AmqpUuid(this.bytes(16));
      case TC.Vbin8: return this.bytes(this.u8());
      case TC.Vbin32: return this.bytes(this.u32());
      case TC.Str8: return this.str(this.u8(), 'utf8');
      case TC.Str32: return this.str(this.u32(), 'utf8');
      case TC.Sym8: return new AmqpSymbol(this.str(this.u8(), 'latin1'));
      case TC.Sym32: return new AmqpSymbol(this.str(this.u32(), 'latin1'));
      case TC.List8: case TC.List32: case TC.Map8: case TC.Map32: return this.readCompound(c);
      case TC.Array8: case TC.Array32: return this.readArray(c);
      default: throw new AmqpDecodeError(`unknown AMQP type code 0x${c.toString(16)}`);
    }
  }

  private readCompound(c: number): unknown[] | AmqpMap {
    const wide = c === TC.List32 || c === TC.Map32;
    const size = wide ? this.u32() : this.u8();
    this.need(size);
    const end = this.pos + size;
    const count = wide ? this.u32() : this.u8();
    if (count > size) throw new AmqpDecodeError('AMQP compound count exceeds its size');
    if (++this.depth > MAX_DEPTH) throw new AmqpDecodeError('AMQP value nested too deeply');
    const saved = this.end;
    this.end = end; // elements may not run past the compound
    const items: unknown[] = new Array(count);
    try {
      for (let i = 0; i < count; i++) items[i] = this.readValue();
    } finally {
      this.end = saved;
    }
    this.depth--;
    if (this.pos !== end) throw new AmqpDecodeError('AMQP compound size does not match its contents');
    if (c === TC.Map8 || c === TC.Map32) {
      if (count % 2 !== 0) throw new AmqpDecodeError('AMQP map with an odd number of elements');
      const entries: Array<[unknown, unknown]> = [];
      for (let i = 0; i < count; i += 2) entries.push([items[i], items[i + 1]]);
      return new AmqpMap(entries);
    }
    return items;
  }

  private readArray(c: number): unknown[] {
    const wide = c === TC.Array32;
    const size = wide ? this.u32() : this.u8();
    this.need(size);
    const end = this.pos + size;
    const count = wide ? this.u32() : this.u8();
    if (++this.depth > MAX_DEPTH) throw new AmqpDecodeError('AMQP value nested too deeply');
    let elementCode = this.u8();
    let descriptor: unknown;
    if (elementCode === TC.Described) {
      descriptor = this.readValue();
      elementCode = this.u8();
    }
    if (count > MAX_EMPTY_ELEMENTS && count > size) throw new AmqpDecodeError('AMQP array count exceeds its size');
    const saved = this.end;
    this.end = end;
    const items: unknown[] = new Array(count);
    try {
      for (let i = 0; i < count; i++) {
        const v = this.readBody(elementCode);
        items[i] = descriptor === undefined ? v : new AmqpDescribed(descriptor, v);
      }
    } finally {
      this.end = saved;
    }
    this.depth--;
    if (this.pos !== end) throw new AmqpDecodeError('AMQP array size does not match its contents');
    return items;
  }
}

/** Decodes one value from `buf` (which must hold exactly one). */
export function decodeValue(buf: Buffer): unknown {
  const d = new Decoder(buf);
  const v = d.readValue();
  if (d.remaining !== 0) throw new AmqpDecodeError('trailing bytes after AMQP value');
  return v;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

export class Encoder {
  buf: Buffer;
  pos = 0;

  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** The bytes written so far (a view on the internal buffer). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  private u32raw(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  null(): void { this.u8(TC.Null); }

  boolean(v: boolean): void { this.u8(v ? TC.True : TC.False); }

  ubyte(v: number): void { this.ensure(2); this.buf[this.pos++] = TC.Ubyte; this.buf[this.pos++] = v & 0xff; }

  ushort(v: number): void { this.ensure(3); this.buf[this.pos++] = TC.Ushort; this.buf.writeUInt16BE(v & 0xffff, this.pos); this.pos += 2; }

  uint(v: number): void {
    if (v === 0) { this.u8(TC.Uint0); return; }
    if (v < 256) { this.ensure(2); this.buf[this.pos++] = TC.SmallUint; this.buf[this.pos++] = v; return; }
    this.ensure(5);
    this.buf[this.pos++] = TC.Uint;
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  ulong(v: number | bigint): void {
    const big = BigInt(v);
    if (big === 0n) { this.u8(TC.Ulong0); return; }
    if (big < 256n) { this.ensure(2); this.buf[this.pos++] = TC.SmallUlong; this.buf[this.pos++] = Number(big); return; }
    this.ensure(9);
    this.buf[this.pos++] = TC.Ulong;
    this.buf.writeBigUInt64BE(BigInt.asUintN(64, big), this.pos);
    this.pos += 8;
  }

  byte(v: number): void { this.ensure(2); this.buf[this.pos++] = TC.Byte; this.buf.writeInt8(v, this.pos++); }

  short(v: number): void { this.ensure(3); this.buf[this.pos++] = TC.Short; this.buf.writeInt16BE(v, this.pos); this.pos += 2; }

  int(v: number): void {
    if (v >= -128 && v <= 127) { this.ensure(2); this.buf[this.pos++] = TC.SmallInt; this.buf.writeInt8(v, this.pos++); return; }
    this.ensure(5);
    this.buf[this.pos++] = TC.Int;
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  long(v: number | bigint): void {
    const big = BigInt(v);
    if (big >= -128n && big <= 127n) { this.ensure(2); this.buf[this.pos++] = TC.SmallLong; this.buf.writeInt8(Number(big), this.pos++); return; }
    this.ensure(9);
    this.buf[this.pos++] = TC.Long;
    this.buf.writeBigInt64BE(BigInt.asIntN(64, big), this.pos);
    this.pos += 8;
  }

  float(v: number): void { this.ensure(5); this.buf[this.pos++] = TC.Float; this.buf.writeFloatBE(v, this.pos); this.pos += 4; }

  double(v: number): void { this.ensure(9); this.buf[this.pos++] = TC.Double; this.buf.writeDoubleBE(v, this.pos); this.pos += 8; }

  timestamp(ms: number): void {
    this.ensure(9);
    this.buf[this.pos++] = TC.Timestamp;
    this.buf.writeBigInt64BE(BigInt(Math.trunc(ms)), this.pos);
    this.pos += 8;
  }

  char(s: string): void { this.ensure(5); this.buf[this.pos++] = TC.Char; this.buf.writeUInt32BE(s.codePointAt(0) ?? 0, this.pos); this.pos += 4; }

  uuid(bytes: Buffer): void { this.ensure(17); this.buf[this.pos++] = TC.Uuid; bytes.copy(this.buf, this.pos, 0, 16); this.pos += 16; }

  private variable(small: number, large: number, len: number): void {
    if (len < 256) {
      this.ensure(2 + len);
      this.buf[this.pos++] = small;
      this.buf[this.pos++] = len;
    } else {
      this.ensure(5 + len);
      this.buf[this.pos++] = large;
      this.buf.writeUInt32BE(len, this.pos);
      this.pos += 4;
    }
  }

  string(s: string): void {
    const len = s.length < 86 && isAscii(s) ? s.length : Buffer.byteLength(s);
    this.variable(TC.Str8, TC.Str32, len);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }

  symbol(s: string): void {
    const len = Buffer.byteLength(s, 'latin1');
    this.variable(TC.Sym8, TC.Sym32, len);
    this.pos += this.buf.write(s, this.pos, len, 'latin1');
  }

  binary(b: Buffer | Uint8Array): void {
    this.variable(TC.Vbin8, TC.Vbin32, b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  raw(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  /** Writes the descriptor of a described value with a numeric (ulong) descriptor; the value follows. */
  descriptor(code: number): void {
    if (code < 256) {
      this.ensure(3);
      this.buf[this.pos++] = 0x00;
      this.buf[this.pos++] = TC.SmallUlong;
      this.buf[this.pos++] = code;
    } else {
      this.ensure(10);
      this.buf[this.pos++] = 0x00;
      this.buf[this.pos++] = TC.Ulong;
      this.buf.writeBigUInt64BE(BigInt(code), this.pos);
      this.pos += 8;
    }
  }

  /**
   * Starts a list or map (code List32 or Map32): returns a mark for endCompound(). The compound is
   * narrowed to its 8-bit form afterwards when it fits.
   */
  beginCompound(): number {
    this.ensure(9);
    const mark = this.pos;
    this.pos += 9;
    return mark;
  }

  /** Ends a compound started at `mark` with `count` elements (a map counts keys and values). */
  endCompound(mark: number, count: number, map: boolean): void {
    const contentLen = this.pos - (mark + 9);
    if (count === 0 && !map) {
      this.pos = mark;
      this.u8(TC.List0);
      return;
    }
    if (contentLen + 1 <= 255 && count <= 255) {
      this.buf.copyWithin(mark + 3, mark + 9, this.pos);
      this.buf[mark] = map ? TC.Map8 : TC.List8;
      this.buf[mark + 1] = contentLen + 1;
      this.buf[mark + 2] = count;
      this.pos = mark + 3 + contentLen;
    } else {
      this.buf[mark] = map ? TC.Map32 : TC.List32;
      this.buf.writeUInt32BE(contentLen + 4, mark + 1);
      this.buf.writeUInt32BE(count, mark + 5);
    }
  }

  array(a: AmqpArray): void {
    const code = a.type === 'symbol' ? TC.Sym32 : TC.Str32;
    const enc: BufferEncoding = a.type === 'symbol' ? 'latin1' : 'utf8';
    this.ensure(10);
    const mark = this.pos;
    this.buf[this.pos++] = TC.Array32;
    this.pos += 8;
    this.buf[this.pos++] = code;
    for (const s of a.items) {
      const len = Buffer.byteLength(s, enc);
      this.ensure(4 + len);
      this.buf.writeUInt32BE(len, this.pos);
      this.pos += 4;
      this.pos += this.buf.write(s, this.pos, len, enc);
    }
    this.buf.writeUInt32BE(this.pos - mark - 5, mark + 1);
    this.buf.writeUInt32BE(a.items.length, mark + 5);
  }

  /** A JS value with its natural AMQP type (see the file comment), or an explicitly typed one. */
  value(v: unknown): void {
    switch (typeof v) {
      case 'string': this.string(v); return;
      case 'boolean': this.boolean(v); return;
      case 'bigint': this.long(v); return;
      case 'number':
        if (Number.isInteger(v)) {
          if (v >= INT32_MIN && v <= INT32_MAX) this.int(v);
          else if (Number.isSafeInteger(v)) this.long(v);
          else this.double(v);
        } else {
          this.double(v);
        }
        return;
      case 'undefined': this.null(); return;
      default: break;
    }
    if (v === null) this.null();
    else if (Buffer.isBuffer(v) || v instanceof Uint8Array) this.binary(v);
    else if (v instanceof AmqpSymbol) this.symbol(v.value);
    else if (v instanceof AmqpUuid) this.uuid(v.bytes);
    else if (v instanceof AmqpRaw) this.raw(v.bytes);
    else if (v instanceof AmqpArray) this.array(v);
    else if (v instanceof AmqpTyped) this.typed(v.type, v.value);
    else if (v instanceof AmqpDescribed) {
      this.u8(0x00);
      const d = v.descriptor;
      if (typeof d === 'number' || typeof d === 'bigint') this.ulong(d);
      else this.value(d);
      this.value(v.value);
    } else if (v instanceof AmqpMap) {
      const mark = this.beginCompound();
      for (const [k, val] of v.entries) { this.value(k); this.value(val); }
      this.endCompound(mark, v.entries.length * 2, true);
    } else if (Array.isArray(v)) {
      const mark = this.beginCompound();
      for (const item of v) this.value(item);
      this.endCompound(mark, v.length, false);
    } else if (v instanceof Date) {
      this.timestamp(v.getTime());
    } else {
      throw new TypeError(`cannot encode ${Object.prototype.toString.call(v)} as AMQP`);
    }
  }

  /** Writes `v` with the AMQP type `type` (values of the wrong JS type fall back to value()). */
  typed(type: AmqpTypeName, v: unknown): void {
    const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : NaN;
    switch (type) {
      case 'ubyte': if (Number.isInteger(n) && n >= 0 && n <= 0xff) return this.ubyte(n); break;
      case 'ushort': if (Number.isInteger(n) && n >= 0 && n <= 0xffff) return this.ushort(n); break;
      case 'uint': if (Number.isInteger(n) && n >= 0 && n <= 0xffffffff) return this.uint(n); break;
      case 'byte': if (Number.isInteger(n) && n >= -0x80 && n <= 0x7f) return this.byte(n); break;
      case 'short': if (Number.isInteger(n) && n >= -0x8000 && n <= 0x7fff) return this.short(n); break;
      case 'int': if (Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX) return this.int(n); break;
      case 'ulong': if ((typeof v === 'bigint' && v >= 0n) || (Number.isSafeInteger(n) && n >= 0)) return this.ulong(v as number | bigint); break;
      case 'long': if (typeof v === 'bigint' || Number.isSafeInteger(n)) return this.long(v as number | bigint); break;
      case 'float': if (typeof v === 'number') return this.float(v); break;
      case 'double': if (typeof v === 'number') return this.double(v); break;
      case 'timestamp': if (Number.isFinite(n)) return this.timestamp(n); break;
      case 'char': if (typeof v === 'string' && v.length > 0) return this.char(v); break;
      case 'symbol': if (typeof v === 'string') return this.symbol(v); break;
      case 'uuid': {
        const u = typeof v === 'string' ? AmqpUuid.parse(v) : v instanceof AmqpUuid ? v : null;
        if (u) return this.uuid(u.bytes);
        break;
      }
      case 'decimal32': case 'decimal64': case 'decimal128': {
        const width = type === 'decimal32' ? 4 : type === 'decimal64' ? 8 : 16;
        if (Buffer.isBuffer(v) && v.length === width) {
          this.ensure(1 + width);
          this.buf[this.pos++] = type === 'decimal32' ? TC.Decimal32 : type === 'decimal64' ? TC.Decimal64 : TC.Decimal128;
          this.raw(v);
          return;
        }
        break;
      }
    }
    this.value(v);
  }
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Encodes one value to a new buffer. */
export function encodeValue(v: unknown): Buffer {
  const e = new Encoder(64);
  e.value(v);
  return Buffer.from(e.finish());
}

/** The AMQP type name of a constructor code, for codes whose JS value does not carry it. */
export function typeNameOfCode(code: number): AmqpTypeName | undefined {
  switch (code) {
    case TC.Ubyte: return 'ubyte';
    case TC.Ushort: return 'ushort';
    case TC.Uint: case TC.SmallUint: case TC.Uint0: return 'uint';
    case TC.Ulong: case TC.SmallUlong: case TC.Ulong0: return 'ulong';
    case TC.Byte: return 'byte';
    case TC.Short: return 'short';
    case TC.Int: case TC.SmallInt: return 'int';
    case TC.Long: case TC.SmallLong: return 'long';
    case TC.Float: return 'float';
    case TC.Double: return 'double';
    case TC.Timestamp: return 'timestamp';
    case TC.Char: return 'char';
    case TC.Sym8: case TC.Sym32: return 'symbol';
    case TC.Uuid: return 'uuid';
    case TC.Decimal32: return 'decimal32';
    case TC.Decimal64: return 'decimal64';
    case TC.Decimal128: return 'decimal128';
    default: return undefined;
  }
}
