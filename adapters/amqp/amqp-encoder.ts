/**
 * The AMQP 1.0 encoder (spec part 1), the writing half of amqp-codec.ts: JS values and the
 * codec's value classes to their smallest encodings, with a growing buffer.
 */
import { AmqpSymbol, AmqpUuid, AmqpDescribed, AmqpTyped, AmqpRaw, AmqpArray, AmqpMap, TC, type AmqpTypeName } from './amqp-codec.js';

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
