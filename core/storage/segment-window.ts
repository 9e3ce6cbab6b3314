/**
 * Sequential positioned reads over one segment file: keeps one window of bytes and re-reads only
 * when asked for bytes outside it. Every read allocates a fresh buffer, so slices handed out
 * earlier stay valid (reads return them without copying).
 */
import type { FileHandle } from 'node:fs/promises';

export class SegmentWindow {
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;

  /** Reads never go past `limit` (the bytes known to be written); `chunk` is the usual read size. */
  constructor(private readonly fh: FileHandle, readonly limit: number, private readonly chunk: number) {}

  /** Makes bytes [pos, pos + n) available; false if the file ends (at `limit`) before that. */
  async ensure(pos: number, n: number): Promise<boolean> {
    if (pos + n > this.limit) return false;
    if (pos >= this.start && pos + n <= this.start + this.buf.length) return true;
    const len = Math.min(this.limit - pos, Math.max(n, this.chunk));
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await this.fh.read(buf, got, len - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.buf = got === len ? buf : buf.subarray(0, got);
    this.start = pos;
    return got >= n;
  }

  /** Bytes [pos, pos + n), which `ensure` made available. */
  bytes(pos: number, n: number): Buffer {
    return this.buf.subarray(pos - this.start, pos - this.start + n);
  }

  /** The window's buffer and the offset of `pos` in it, for reading header fields in place. */
  at(pos: number): [Buffer, number] {
    return [this.buf, pos - this.start];
  }
}
