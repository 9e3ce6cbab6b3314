/**
 * A small deterministic PRNG (sfc32, seeded through splitmix32): the same seed gives the same
 * inputs, so a failure printed with its seed can be replayed with `--seed`.
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }

  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
}

/** FNV-1a of a string or bytes: per-parser seeds and the input-derived choices of the targets. */
export function fnv1a(data: string | Buffer, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  const n = data.length;
  for (let i = 0; i < n; i++) {
    h ^= typeof data === 'string' ? data.charCodeAt(i) : data[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Splits an input into 1 to 4 chunks at points derived from its bytes (so a replay splits alike). */
export function chunksOf(input: Buffer): Buffer[] {
  const h = fnv1a(input);
  const parts = 1 + (h & 3);
  if (parts === 1 || input.length < parts) return [input];
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 1; i < parts; i++) {
    const cut = Math.max(at, Math.floor((input.length * i) / parts) - ((h >>> (8 + i)) & 7));
    out.push(input.subarray(at, cut));
    at = cut;
  }
  out.push(input.subarray(at));
  return out;
}
