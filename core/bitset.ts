/**
 * A bit per slot in a Uint8Array (bit i in byte i >> 3): the slots taken out of the frozen parts of
 * the packed indexes (a message table chunk's dead slots, a frozen paged run's holes). Bytes, so
 * that an index snapshot stores it as it is.
 */

/** Bytes for `n` bits. */
export const bitsetBytes = (n: number): number => (n + 7) >> 3;

export function hasBit(bits: Uint8Array, i: number): boolean {
  return (bits[i >> 3] & (1 << (i & 7))) !== 0;
}

export function setBit(bits: Uint8Array, i: number): void {
  bits[i >> 3] |= 1 << (i & 7);
}

/** Bits set among the first `n`. */
export function countBits(bits: Uint8Array, n: number): number {
  let count = 0;
  for (let i = 0; i < n; i++) if (hasBit(bits, i)) count++;
  return count;
}
