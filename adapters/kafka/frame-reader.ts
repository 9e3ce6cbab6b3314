/**
 * Splits a TCP byte stream into Kafka frames (int32 size + that many bytes) as an explicit state
 * machine over chunks: no copy when a frame lies within one chunk, one copy when it spans several,
 * and a frame larger than the limit is refused before any of it is buffered.
 */

export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError';
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Size of the frame being read, or -1 while its size prefix is incomplete. */
  private need = -1;

  constructor(private readonly maxFrameBytes: number) {}

  /** Feeds bytes; returns the complete frames (without their size prefix). */
  push(data: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    // Fast path: nothing buffered, parse straight out of the chunk.
    let at = 0;
    if (this.buffered === 0 && this.need < 0) {
      while (data.length - at >= 4) {
        const size = data.readInt32BE(at);
        this.check(size);
        if (data.length - at - 4 < size) break;
        frames.push(data.subarray(at + 4, at + 4 + size));
        at += 4 + size;
      }
      if (at === data.length) return frames;
      data = data.subarray(at);
    }
    this.chunks.push(data);
    this.buffered += data.length;
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) break;
        const head = this.take(4);
        this.need = head.readInt32BE(0);
        this.check(this.need);
      }
      if (this.buffered < this.need) break;
      frames.push(this.take(this.need));
      this.need = -1;
    }
    return frames;
  }

  /** Bytes held waiting for the rest of a frame. */
  get pending(): number {
    return this.buffered;
  }

  private check(size: number): void {
    if (size < 0 || size > this.maxFrameBytes) throw new FrameTooLargeError(`request of ${size} bytes exceeds the limit of ${this.maxFrameBytes}`);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0] ?? Buffer.alloc(0); // a zero-size frame may find nothing buffered
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
