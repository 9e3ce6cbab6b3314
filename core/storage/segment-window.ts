/**
 * Reading partition segment files. SegmentWindow does sequential positioned reads over one file: keeps one window of bytes and re-reads only
 * when asked for bytes outside it. Every read allocates a fresh buffer, so slices handed out
 * earlier stay valid (reads return them without copying).
 */
import type { FileHandle } from 'node:fs/promises';
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, readBatchHeader } from '../stream/batch-header.js';
import { decodeRecords } from '../stream/record-codec.js';

const INDEX_SLACK = 8 * 1024;
const MAX_READ_CHUNK = 16 * 1024 * 1024;

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

/**
 * Whole batches from the one holding `offset`, up to `maxBytes` (at least one), walking from `position`
 * (an indexed batch at or before it) and never past `limit`. Empty if the file ends first.
 */
export async function readBatches(fh: FileHandle, path: string, limit: number, position: number, offset: number, maxBytes: number): Promise<Buffer[]> {
  const win = new SegmentWindow(fh, limit, Math.min(Math.max(maxBytes, 0), MAX_READ_CHUNK) + INDEX_SLACK);
  let pos = position;
  for (;;) { // to the batch holding `offset`
    if (!(await win.ensure(pos, BATCH_HEADER_SIZE))) return [];
    const [buf, at] = win.at(pos);
    const size = checkedSize(buf, at, path, pos);
    if (Number(buf.readBigInt64BE(at)) + buf.readInt32BE(at + 23) >= offset) break;
    pos += size;
  }
  const out: Buffer[] = [];
  for (let total = 0; out.length === 0 || total < maxBytes;) {
    if (!(await win.ensure(pos, LOG_OVERHEAD))) break;
    const size = checkedSize(...win.at(pos), path, pos);
    if (out.length > 0 && total + size > maxBytes) break;
    if (!(await win.ensure(pos, size))) break;
    out.push(win.bytes(pos, size));
    total += size;
    pos += size;
  }
  return out;
}

/** The first batch from `position` on whose newest timestamp is at least `timestamp`. */
export async function findBatchByTimestamp(fh: FileHandle, path: string, limit: number, position: number, timestamp: number): Promise<Buffer | null> {
  const win = new SegmentWindow(fh, limit, 64 * 1024);
  for (let pos = position; await win.ensure(pos, BATCH_HEADER_SIZE);) {
    const [buf, at] = win.at(pos);
    const size = checkedSize(buf, at, path, pos);
    if (Number(buf.readBigInt64BE(at + 35)) >= timestamp) return (await win.ensure(pos, size)) ? win.bytes(pos, size) : null;
    pos += size;
  }
  return null;
}

/** Offset of the batch's first record at or after `timestamp` (its base offset if the records cannot be decoded). */
export async function firstOffsetAtOrAfter(batch: Buffer, timestamp: number): Promise<number> {
  try {
    const header = readBatchHeader(batch);
    for (const r of await decodeRecords(batch, header)) if (r.timestamp >= timestamp) return r.offset;
    return header.baseOffset;
  } catch {
    return Number(batch.readBigInt64BE(0));
  }
}

function checkedSize(buf: Buffer, at: number, path: string, pos: number): number {
  const size = buf.readInt32BE(at + 8) + LOG_OVERHEAD;
  if (size < BATCH_HEADER_SIZE) throw new Error(`corrupt batch in ${path} at ${pos}`);
  return size;
}
