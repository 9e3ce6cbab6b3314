/**
 * The columns of a complete paged run (core/paged-run.ts), bit-packed once no more entries can
 * join it: seq offsets and size codes as PackedInts (a line per block of 256 plus residuals, so
 * seqs rising steadily and sizes repeating take next to no bits), entries taken out of the middle
 * as a bitset made at the first one, expiries only when an entry has one. Immutable but for the
 * holes.
 */
import { PackedInts } from './packed-ints.js';

const TWO_32 = 2 ** 32;

export class FrozenColumns {
  /** Bit i set: entry i was taken out of the middle. Made at the first. */
  private holes: Uint32Array | null = null;

  private constructor(
    private readonly seqs: PackedInts,
    private readonly sizes: PackedInts,
    private readonly expiries: ExpiryColumn | null,
  ) {}

  /** Packs entries [0, count) of the columns given (expiries: NaN for none, or null for none at all). */
  static from(seqs: ArrayLike<number>, sizes: ArrayLike<number>, expiries: ArrayLike<number> | null, count: number): FrozenColumns {
    return new FrozenColumns(PackedInts.from(seqs, count), PackedInts.from(sizes, count), expiries ? packExpiries(expiries, count) : null);
  }

  seq(i: number): number {
    return this.seqs.get(i);
  }

  size(i: number): number {
    return this.sizes.get(i);
  }

  /** NaN: none. */
  expiry(i: number): number {
    const e = this.expiries;
    if (e === null) return NaN;
    if (e instanceof Float64Array) return e[i];
    const v = e.offsets.get(i);
    return v === 0 ? NaN : e.least + v - 1;
  }

  isHole(i: number): boolean {
    return this.holes !== null && (this.holes[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  setHole(i: number): void {
    this.holes ??= new Uint32Array(Math.ceil(this.seqs.length / 32));
    this.holes[i >>> 5] |= 1 << (i & 31);
  }

  get byteLength(): number {
    const e = this.expiries;
    return this.seqs.byteLength + this.sizes.byteLength + (this.holes?.byteLength ?? 0)
      + (e === null ? 0 : e instanceof Float64Array ? e.byteLength : e.offsets.byteLength);
  }
}

/** Expiries as offsets from the least (0: none), or as they are when they are not whole ms or span 2^32 - 1 ms or more. */
type ExpiryColumn = Float64Array | { least: number; offsets: PackedInts };

function packExpiries(expiries: ArrayLike<number>, count: number): ExpiryColumn | null {
  let least = Infinity;
  let most = -Infinity;
  for (let i = 0; i < count; i++) {
    const e = expiries[i];
    if (Number.isNaN(e)) continue;
    if (!Number.isInteger(e)) return Float64Array.from({ length: count }, (_, k) => expiries[k]);
    if (e < least) least = e;
    if (e > most) most = e;
  }
  if (least === Infinity) return null;
  if (most - least + 1 >= TWO_32) return Float64Array.from({ length: count }, (_, k) => expiries[k]);
  const offsets = new Uint32Array(count);
  for (let i = 0; i < count; i++) offsets[i] = Number.isNaN(expiries[i]) ? 0 : expiries[i] - least + 1;
  return { least, offsets: PackedInts.from(offsets) };
}
