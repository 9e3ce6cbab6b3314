/** Zig-zag varints as used inside record batch v2 records (protobuf encoding). */

export class VarintReader {
  constructor(public buf: Buffer, public pos = 0) {}

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.buf.length) throw new RangeError('varint runs past the end of the buffer');
      const b = this.buf[this.pos++];
      if (shift < 28) result |= (b & 0x7f) << shift;
      else result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 63) throw new RangeError('varint is too long');
    }
    // zig-zag decode without losing precision above 2^31
    const unsigned = result < 0 ? result + 2 ** 32 : result;
    return unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2;
  }

  bytes(length: number): Buffer {
    if (length < 0 || this.pos + length > this.buf.length) throw new RangeError('field runs past the end of the buffer');
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  /** A varint-length-prefixed byte field; null for length -1. */
  nullableBytes(): Buffer | null {
    const len = this.varint();
    return len < 0 ? null : this.bytes(len);
  }

  int8(): number {
    if (this.pos >= this.buf.length) throw new RangeError('field runs past the end of the buffer');
    return this.buf.readInt8(this.pos++);
  }
}

/** Appends zig-zag varints into a growing byte array. */
export class VarintWriter {
  private chunks: Buffer[] = [];
  private scratch = Buffer.allocUnsafe(10);
  length = 0;

  varint(value: number): this {
    let v = value >= 0 ? value * 2 : -value * 2 - 1;
    let n = 0;
    while (v >= 0x80) {
      this.scratch[n++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.scratch[n++] = v;
    this.push(Buffer.from(this.scratch.subarray(0, n)));
    return this;
  }

  bytes(b: Buffer): this {
    this.push(b);
    return this;
  }

  nullableBytes(b: Buffer | null | undefined): this {
    if (b === null || b === undefined) return this.varint(-1);
    this.varint(b.length);
    return this.bytes(b);
  }

  int8(v: number): this {
    const b = Buffer.allocUnsafe(1);
    b.writeInt8(v);
    return this.bytes(b);
  }

  private push(b: Buffer): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

export function varintSize(value: number): number {
  let v = value >= 0 ? value * 2 : -value * 2 - 1;
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}
