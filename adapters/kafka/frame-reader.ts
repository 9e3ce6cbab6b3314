/**
 * Splits a TCP byte stream into Kafka frames (int32 size + that many bytes) as an explicit state
 * machine over chunks, handing out one frame at a time so the connection decides when to parse the
 * next (one request in flight, as Kafka). No copy when a frame lies within one chunk, one copy when
 * it spans several; the announced size is checked against the caller's limit as soon as the size
 * prefix is in, and nothing is allocated for it up front: only the bytes that arrived are held.
 */

export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError';
  constructor(readonly size: number, readonly limit: number) {
    super(`request of ${size} bytes exceeds the limit of ${limit}`);
  }
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Size of the frame being read, or -1 while its size prefix is incomplete. */
  private need = -1;

  constructor(private readonly maxFrameBytes = 0x7fffffff) {}

  /** Buffers bytes and returns every frame now complete (for readers that take all at once). */
  split(data: Buffer): Buffer[] {
    this.push(data);
    const frames: Buffer[] = [];
    for (let f = this.next(); f !== null; f = this.next()) frames.push(f);
    return frames;
  }

  /** Buffers bytes; frames are taken with next(). */
  push(data: Buffer): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.buffered += data.length;
  }

  /**
   * The next complete frame (without its size prefix), or null while it is incomplete. Throws
   * FrameTooLargeError when the announced size is negative or above `limit`.
   */
  next(limit = this.maxFrameBytes): Buffer | null {
    if (this.need < 0) {
      if (this.buffered < 4) return null;
      const size = this.take(4).readInt32BE(0);
      if (size < 0 || size > limit) throw new FrameTooLargeError(size, limit);
      this.need = size;
    } else if (this.need > limit) {
      throw new FrameTooLargeError(this.need, limit);
    }
    if (this.buffered < this.need) return null;
    const frame = this.take(this.need);
    this.need = -1;
    return frame;
  }

  /** Bytes held: the frame being read and any read ahead of it. */
  get pending(): number {
    return this.buffered + (this.need >= 0 ? 4 : 0);
  }

  /** True while part of a frame has arrived but not all of it. */
  get partial(): boolean {
    return this.need >= 0 ? this.buffered < this.need : this.buffered > 0;
  }

  /** True when a whole frame is buffered (next() would return it, or throw). */
  get complete(): boolean {
    if (this.need >= 0) return this.buffered >= this.need;
    if (this.buffered < 4) return false;
    const size = this.peekInt32();
    return size < 0 || this.buffered - 4 >= size;
  }

  private peekInt32(): number {
    const first = this.chunks[0];
    if (first.length >= 4) return first.readInt32BE(0);
    const head = Buffer.allocUnsafe(4);
    let filled = 0;
    for (const c of this.chunks) {
      const k = Math.min(c.length, 4 - filled);
      c.copy(head, filled, 0, k);
      filled += k;
      if (filled === 4) break;
    }
    return head.readInt32BE(0);
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}
