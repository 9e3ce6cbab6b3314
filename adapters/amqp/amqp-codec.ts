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
 * Writing is amqp-encoder.ts.
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
