/**
 * The columns of a complete paged run (core/paged-run.ts), bit-packed once no more entries can
 * join it: seq offsets, size codes and, when an entry has one, expiries (as offsets from the
 * least), one after the other in one PackedInts (a line per block of 256 plus residuals, so seqs
 * rising steadily and sizes repeating take next to no bits; one column, because each costs about
 * 1 KiB in typed-array objects). Entries taken out of the middle are a bitset made at the first.
 * Immutable but for the holes.
 */
import { bitsetBytes, hasBit, setBit } from './bitset.js';
import { PACK_BLOCK, PackedInts } from './packed-ints.js';

const TWO_32 = 2 ** 32;

export class FrozenColumns {
  /** Bit i set: entry i was taken out of the middle. Made at the first. */
  private holes: Uint8Array | null = null;

  private constructor(
    private readonly count: number,
    /** Seqs at 0, sizes at `sizesAt`, expiry offsets (0: none) at `expiriesAt` when `least` is set. */
    private readonly values: PackedInts,
    private readonly sizesAt: number,
    private readonly expiriesAt: number,
    private readonly least: number | undefined,
    /** Expiries as they are when they are not whole ms or span 2^32 - 1 ms or more (NaN: none). */
    private readonly rawExpiries: Float64Array | null,
  ) {}

  /** Packs entries [0, count) of the columns given (expiries: NaN for none, or null for none at all). */
  static from(seqs: ArrayLike<number>, sizes: ArrayLike<number>, expiries: ArrayLike<number> | null, count: number): FrozenColumns {
    const range = expiries ? expiryRange(expiries, count) : undefined;
    const least = range && Number.isInteger(range[0]) && range[1] - range[0] + 1 < TWO_32 ? range[0] : undefined;
    // Each column starts on a block, padded with its last value (a block's line stays as it was).
    const stride = Math.ceil(count / PACK_BLOCK) * PACK_BLOCK;
    const all = new Uint32Array(stride * (least === undefined ? 2 : 3));
    for (let i = 0; i < stride; i++) {
      const k = Math.min(i, count - 1);
      all[i] = seqs[k];
      all[stride + i] = sizes[k];
      if (least !== undefined) all[2 * stride + i] = Number.isNaN(expiries![k]) ? 0 : expiries![k] - least + 1;
    }
    const raw = range && least === undefined ? Float64Array.from({ length: count }, (_, k) => expiries![k]) : null;
    return new FrozenColumns(count, PackedInts.from(all), stride, 2 * stride, least, raw);
  }

  seq(i: number): number {
    return this.values.get(i);
  }

  size(i: number): number {
    return this.values.get(this.sizesAt + i);
  }

  /** NaN: none. */
  expiry(i: number): number {
    if (this.least !== undefined) {
      const v = this.values.get(this.expiriesAt + i);
      return v === 0 ? NaN : this.least + v - 1;
    }
    return this.rawExpiries ? this.rawExpiries[i] : NaN;
  }

  isHole(i: number): boolean {
    return this.holes !== null && hasBit(this.holes, i);
  }

  setHole(i: number): void {
    setBit((this.holes ??= new Uint8Array(bitsetBytes(this.count))), i);
  }

  get byteLength(): number {
    return this.values.byteLength + (this.holes?.byteLength ?? 0) + (this.rawExpiries?.byteLength ?? 0);
  }
}

/**
 * Least and greatest expiry of entries [0, count), or undefined when none has one; the least is
 * NaN when one is not whole ms (then they are kept as they are).
 */
function expiryRange(expiries: ArrayLike<number>, count: number): [number, number] | undefined {
  let least = Infinity;
  let most = -Infinity;
  for (let i = 0; i < count; i++) {
    const e = expiries[i];
    if (Number.isNaN(e)) continue;
    if (!Number.isInteger(e)) return [NaN, NaN];
    if (e < least) least = e;
    if (e > most) most = e;
  }
  return least === Infinity ? undefined : [least, most];
}
