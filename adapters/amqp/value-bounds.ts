/**
 * Walks one AMQP-encoded value (spec part 1.6) without decoding it, checking every size and count
 * against the bytes that are really there. rhea's decoder trusts them: it loops `count` times for a
 * list or an array and keeps every element, so a 12-byte array32 that claims 2^28 nulls costs about
 * 0.6 s of CPU and 250 MB. The FrameGuard runs this over each performative before rhea sees it.
 *
 * Rules: a compound's size must fit in what encloses it (the frame at the outside), its elements
 * must fill exactly that size, and its count may not exceed its size in bytes (every list or map
 * element takes at least one byte; an array's count is held to the same bound even for element
 * types of no bytes, such as null). Nesting stops at MAX_DEPTH. So the walk costs at most a few
 * steps per byte of the frame, whatever the numbers in it say.
 */

export class ValueBoundsError extends Error {
  override readonly name = 'ValueBoundsError';
}

/** Thrown when the value runs past the bytes at hand but may still fit in the frame. */
export const NEED_MORE: unique symbol = Symbol('need-more');

const MAX_DEPTH = 32;

/** Bytes after the constructor: >= 0 fixed width; VAR1/VAR4 size-prefixed; LIST/ARRAY with their size width. */
const UNKNOWN = -1;
const VAR1 = -2;
const VAR4 = -3;
const LIST1 = -4;
const LIST4 = -5;
const ARRAY1 = -6;
const ARRAY4 = -7;
const LAYOUT = new Int8Array(256).fill(UNKNOWN);
for (const c of [0x40, 0x41, 0x42, 0x43, 0x44, 0x45]) LAYOUT[c] = 0;
for (const c of [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56]) LAYOUT[c] = 1;
for (const c of [0x60, 0x61]) LAYOUT[c] = 2;
for (const c of [0x70, 0x71, 0x72, 0x73, 0x74]) LAYOUT[c] = 4;
for (const c of [0x80, 0x81, 0x82, 0x83, 0x84]) LAYOUT[c] = 8;
for (const c of [0x94, 0x98]) LAYOUT[c] = 16;
for (const c of [0xa0, 0xa1, 0xa3]) LAYOUT[c] = VAR1;
for (const c of [0xb0, 0xb1, 0xb3]) LAYOUT[c] = VAR4;
for (const c of [0xc0, 0xc1]) LAYOUT[c] = LIST1;
for (const c of [0xd0, 0xd1]) LAYOUT[c] = LIST4;
LAYOUT[0xe0] = ARRAY1;
LAYOUT[0xf0] = ARRAY4;

/**
 * The offset just past the value that starts at `pos`. `avail` is how many bytes of `buf` are at
 * hand, `end` where the enclosing frame ends (it may lie beyond `avail`: then NEED_MORE is thrown
 * when the walk needs bytes not yet at hand). Throws ValueBoundsError for a value that cannot be
 * right whatever follows.
 */
export function valueEnd(buf: Buffer, pos: number, avail: number, end: number): number {
  return new Walk(buf, avail, end).value(pos, end, 0);
}

class Walk {
  constructor(private readonly buf: Buffer, private readonly avail: number, private readonly frameEnd: number) {}

  private where(limit: number): string {
    return limit === this.frameEnd ? 'frame' : 'enclosing value';
  }

  private need(pos: number, n: number, limit: number): void {
    if (pos + n > limit) throw new ValueBoundsError(`AMQP value runs past its ${this.where(limit)}`);
    if (pos + n > this.avail) throw NEED_MORE;
  }

  private uint(pos: number, width: 1 | 4, limit: number): number {
    this.need(pos, width, limit);
    return width === 1 ? this.buf[pos] : this.buf.readUInt32BE(pos);
  }

  value(pos: number, limit: number, depth: number): number {
    this.need(pos, 1, limit);
    const code = this.buf[pos];
    if (code === 0x00) {
      if (depth >= MAX_DEPTH) throw new ValueBoundsError('AMQP value nested too deeply');
      const afterDescriptor = this.value(pos + 1, limit, depth + 1);
      return this.value(afterDescriptor, limit, depth + 1);
    }
    return this.body(code, pos + 1, limit, depth);
  }

  /** The value encoded with constructor `code`, whose bytes start at `pos`. */
  private body(code: number, pos: number, limit: number, depth: number): number {
    const layout = LAYOUT[code];
    if (layout >= 0) {
      this.need(pos, layout, limit);
      return pos + layout;
    }
    switch (layout) {
      case VAR1:
      case VAR4: {
        const w = layout === VAR1 ? 1 : 4;
        const size = this.uint(pos, w, limit);
        this.need(pos + w, size, limit);
        return pos + w + size;
      }
      case LIST1:
      case LIST4:
        return this.list(layout === LIST1 ? 1 : 4, pos, limit, depth);
      case ARRAY1:
      case ARRAY4:
        return this.array(layout === ARRAY1 ? 1 : 4, pos, limit, depth);
      default:
        throw new ValueBoundsError(`unknown AMQP type code 0x${code.toString(16)}`);
    }
  }

  /** Size and count of a compound at `pos`; the count is held to the size (an element takes a byte). */
  private sizeCount(w: 1 | 4, pos: number, limit: number, depth: number): { end: number; count: number } {
    if (depth >= MAX_DEPTH) throw new ValueBoundsError('AMQP value nested too deeply');
    const size = this.uint(pos, w, limit);
    if (size < w) throw new ValueBoundsError(`AMQP compound size ${size} is below its count field`);
    const end = pos + w + size;
    if (end > limit) throw new ValueBoundsError(`AMQP compound of ${size} bytes runs past its ${this.where(limit)}`);
    const count = this.uint(pos + w, w, limit);
    if (count > size - w) throw new ValueBoundsError(`AMQP compound count ${count} exceeds its ${size - w} bytes`);
    return { end, count };
  }

  private list(w: 1 | 4, pos: number, limit: number, depth: number): number {
    const { end, count } = this.sizeCount(w, pos, limit, depth);
    let p = pos + 2 * w;
    for (let i = 0; i < count; i++) p = this.value(p, end, depth + 1);
    if (p !== end) throw new ValueBoundsError('AMQP compound size does not match its elements');
    return p;
  }

  private array(w: 1 | 4, pos: number, limit: number, depth: number): number {
    const { end, count } = this.sizeCount(w, pos, limit, depth);
    let p = pos + 2 * w;
    this.need(p, 1, end);
    let code = this.buf[p++];
    while (code === 0x00) {
      p = this.value(p, end, depth + 1);
      this.need(p, 1, end);
      code = this.buf[p++];
    }
    const layout = LAYOUT[code];
    if (layout === UNKNOWN) throw new ValueBoundsError(`unknown AMQP array element type 0x${code.toString(16)}`);
    if (layout >= 0) {
      this.need(p, count * layout, end);
      p += count * layout;
    } else {
      for (let i = 0; i < count; i++) p = this.body(code, p, end, depth + 1);
    }
    if (p !== end) throw new ValueBoundsError('AMQP array size does not match its elements');
    return p;
  }
}
