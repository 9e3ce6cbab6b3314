/**
 * An immutable column of non-negative integers below 2^32, bit-packed in blocks of 256 for cold
 * parts of the packed indexes (the journal's message table, a queue's paged runs). Each block keeps
 * a line, `base + j * slope`, through its values and packs what is left of each value (its
 * residual) in as few bits as the block's range needs. Values that rise steadily (seqs, file
 * positions of messages written in a row) and values that repeat (one queue, one size) then take
 * next to no bits: a deep queue's index costs about a byte a message instead of 15-20. Reading one
 * value is O(1): a few array reads and shifts.
 */

const SHIFT = 8;
/** Values per block. */
export const PACK_BLOCK = 1 << SHIFT;
const MASK = PACK_BLOCK - 1;
/** LOW_BITS[w]: a mask of the w low bits (w < 32). */
const LOW_BITS = Array.from({ length: 32 }, (_, w) => 2 ** w - 1);

/** Bits needed for values 0..range. */
function bitsFor(range: number): number {
  let bits = 0;
  while (range >= 1) {
    range = Math.floor(range / 2);
    bits++;
  }
  return bits;
}

/** The `w` bits (1..32) at bit `pos` of `words`. */
function bitsAt(words: Uint32Array, pos: number, w: number): number {
  const k = pos >>> 5;
  const shift = pos & 31;
  let r = words[k] >>> shift;
  if (shift + w > 32) r = (r | (words[k + 1] << (32 - shift))) >>> 0;
  return w === 32 ? r : r & LOW_BITS[w];
}

/** A PackedInts' arrays, as an index snapshot stores them. */
export interface PackedParts {
  length: number;
  base: Float64Array;
  slope: Int32Array;
  width: Uint8Array;
  bitAt: Uint32Array;
  words: Uint32Array;
}

export class PackedInts {
  private constructor(
    readonly length: number,
    private readonly base: Float64Array,
    private readonly slope: Int32Array,
    private readonly width: Uint8Array,
    /** Bit position of each block's first residual in `words`. */
    private readonly bitAt: Uint32Array,
    private readonly words: Uint32Array,
  ) {}

  /** Packs values[0..n). */
  static from(values: ArrayLike<number>, n = values.length): PackedInts {
    const blocks = Math.ceil(n / PACK_BLOCK);
    const base = new Float64Array(blocks);
    const slope = new Int32Array(blocks);
    const width = new Uint8Array(blocks);
    const bitAt = new Uint32Array(blocks);
    let bits = 0;
    for (let b = 0; b < blocks; b++) {
      const s = b * PACK_BLOCK;
      const count = Math.min(PACK_BLOCK, n - s);
      let k = count > 1 ? Math.round((values[s + count - 1] - values[s]) / (count - 1)) : 0;
      k = Math.max(-0x80000000, Math.min(0x7fffffff, k));
      let [min, max] = residualRange(values, s, count, k);
      if (k !== 0) {
        // Values that merely vary (sizes) fit a flat line better than the one through the ends.
        const [min0, max0] = residualRange(values, s, count, 0);
        if (max0 - min0 <= max - min) [k, min, max] = [0, min0, max0];
      }
      base[b] = min;
      slope[b] = k;
      width[b] = bitsFor(max - min);
      bitAt[b] = bits;
      bits += width[b] * count;
    }
    const words = new Uint32Array(Math.ceil(bits / 32) + 1);
    for (let b = 0; b < blocks; b++) {
      const w = width[b];
      if (w === 0) continue;
      const s = b * PACK_BLOCK;
      const count = Math.min(PACK_BLOCK, n - s);
      let pos = bitAt[b];
      for (let j = 0; j < count; j++, pos += w) {
        const r = values[s + j] - j * slope[b] - base[b];
        const i = pos >>> 5;
        const shift = pos & 31;
        words[i] |= r << shift;
        if (shift + w > 32) words[i + 1] |= r >>> (32 - shift);
      }
    }
    return new PackedInts(n, base, slope, width, bitAt, words);
  }

  /** Its arrays (shared, not copied: they never change). */
  parts(): PackedParts {
    return { length: this.length, base: this.base, slope: this.slope, width: this.width, bitAt: this.bitAt, words: this.words };
  }

  /** A column from parts() (read from a snapshot); RangeError if they do not fit together. */
  static fromParts(p: PackedParts): PackedInts {
    const blocks = Math.ceil(p.length / PACK_BLOCK);
    if (p.base.length !== blocks || p.slope.length !== blocks || p.width.length !== blocks || p.bitAt.length !== blocks) {
      throw new RangeError('packed column: block arrays do not match its length');
    }
    for (let b = 0; b < blocks; b++) {
      const count = Math.min(PACK_BLOCK, p.length - b * PACK_BLOCK);
      // get() reads the word after a value's last one.
      if (p.width[b] > 32 || p.bitAt[b] + p.width[b] * count > (p.words.length - 1) * 32) throw new RangeError('packed column: bits past its words');
    }
    return new PackedInts(p.length, p.base, p.slope, p.width, p.bitAt, p.words);
  }

  get(i: number): number {
    const b = i >>> SHIFT;
    const j = i & MASK;
    const w = this.width[b];
    const v = this.base[b] + j * this.slope[b];
    return w === 0 ? v : v + bitsAt(this.words, this.bitAt[b] + j * w, w);
  }

  /** Every value into `out` (a block at a time: several times faster than get() per value). */
  copyTo(out: { [i: number]: number }): void {
    const words = this.words;
    for (let b = 0, s = 0; s < this.length; b++, s += PACK_BLOCK) {
      const count = Math.min(PACK_BLOCK, this.length - s);
      const w = this.width[b];
      const k = this.slope[b];
      let v = this.base[b];
      if (w === 0) {
        for (let j = 0; j < count; j++, v += k) out[s + j] = v;
        continue;
      }
      let pos = this.bitAt[b];
      for (let j = 0; j < count; j++, v += k, pos += w) out[s + j] = v + bitsAt(words, pos, w);
    }
  }

  /** Bytes of memory it holds (its arrays). */
  get byteLength(): number {
    return this.base.byteLength + this.slope.byteLength + this.width.byteLength + this.bitAt.byteLength + this.words.byteLength;
  }
}

/** Least and greatest residual of values[s..s+count) less j * k. */
function residualRange(values: ArrayLike<number>, s: number, count: number, k: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < count; j++) {
    const r = values[s + j] - j * k;
    if (r < min) min = r;
    if (r > max) max = r;
  }
  return [min, max];
}
