/**
 * What a partition segment knows of its batches without reading them: base and next offset, size,
 * newest timestamp, and a sparse index with one entry per ~4 KiB of batches (as Kafka's
 * index.interval.bytes). Each entry holds a batch's base offset, its file position and the newest
 * timestamp of every batch BEFORE it, so one array answers both offset and timestamp lookups.
 *
 * Sealed segments persist this next to the log (`<base>.index`, checksummed, with the segment size
 * it describes) so that opening a large store reads a few KiB per segment instead of the data. The
 * active segment gets one at clean close too (a checkpoint): after a crash only the bytes past it
 * are validated.
 */
import { crc32 } from '@node-rs/crc32';
import type { FileHandle } from 'node:fs/promises';
import type { StoredBatchInfo } from '../store.js';
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, validateBatch } from '../stream/batch-header.js';
import { SegmentWindow } from './segment-window.js';

export const INDEX_INTERVAL_BYTES = 4096;
const MAGIC = 0x4a495831; // "JIX1"
const FIXED = 4 + 4 + 8 * 4;
const PRODUCER_BYTES = 8 * 3 + 8 + 2 + 4;

export class SegmentIndex {
  nextOffset: number;
  /** Bytes of batches (counting appends not yet written). */
  size = 0;
  /** Newest batch timestamp; -Infinity while the segment is empty. */
  maxTimestamp = -Infinity;
  private offsets: Float64Array = new Float64Array(16);
  private positions: Float64Array = new Float64Array(16);
  private newestBefore: Float64Array = new Float64Array(16);
  private count = 0;
  private sinceEntry = Infinity;

  constructor(readonly baseOffset: number) {
    this.nextOffset = baseOffset;
  }

  /** Records the batch appended at `position` (always the current end). */
  add(baseOffset: number, lastOffset: number, maxTimestamp: number, position: number, bytes: number): void {
    if (this.sinceEntry >= INDEX_INTERVAL_BYTES) {
      if (this.count === this.offsets.length) this.grow();
      this.offsets[this.count] = baseOffset;
      this.positions[this.count] = position;
      this.newestBefore[this.count] = this.maxTimestamp;
      this.count++;
      this.sinceEntry = 0;
    }
    this.sinceEntry += bytes;
    this.size = position + bytes;
    this.nextOffset = lastOffset + 1;
    if (maxTimestamp > this.maxTimestamp) this.maxTimestamp = maxTimestamp;
  }

  /** An indexed batch at or before the one holding `offset`: where a scan for it starts. */
  floorOffset(offset: number): { offset: number; position: number } {
    const i = this.lastEntryWhere((k) => this.offsets[k] <= offset);
    return i < 0 ? { offset: this.baseOffset, position: 0 } : { offset: this.offsets[i], position: this.positions[i] };
  }

  /** An indexed batch such that every batch before it is older than `timestamp`. */
  floorTimestamp(timestamp: number): { offset: number; position: number } {
    const i = this.lastEntryWhere((k) => this.newestBefore[k] < timestamp);
    return i < 0 ? { offset: this.baseOffset, position: 0 } : { offset: this.offsets[i], position: this.positions[i] };
  }

  /**
   * The index as a file. `producers` (the active segment's producer batches) makes it a clean-close
   * checkpoint: the segment's first `size` bytes never change, so the index stays true for them.
   */
  serialize(producers: StoredBatchInfo[] = []): Buffer {
    const buf = Buffer.allocUnsafe(FIXED + this.count * 24 + 4 + producers.length * PRODUCER_BYTES + 4);
    let p = buf.writeUInt32BE(MAGIC, 0);
    p = buf.writeUInt32BE(this.count, p);
    for (const v of [this.baseOffset, this.nextOffset, this.size, this.maxTimestamp]) p = buf.writeDoubleBE(v, p);
    for (let i = 0; i < this.count; i++) {
      p = buf.writeDoubleBE(this.offsets[i], p);
      p = buf.writeDoubleBE(this.positions[i], p);
      p = buf.writeDoubleBE(this.newestBefore[i], p);
    }
    p = buf.writeUInt32BE(producers.length, p);
    for (const b of producers) {
      p = buf.writeDoubleBE(b.baseOffset, p);
      p = buf.writeDoubleBE(b.lastOffset, p);
      p = buf.writeDoubleBE(b.maxTimestamp, p);
      p = buf.writeBigInt64BE(b.producerId, p);
      p = buf.writeInt16BE(b.producerEpoch, p);
      p = buf.writeInt32BE(b.baseSequence, p);
    }
    buf.writeUInt32BE(crc32(buf.subarray(0, p)) >>> 0, p);
    return buf;
  }

  /** The index a file holds (describing the segment's first `index.size` bytes), or null if damaged. */
  static deserialize(buf: Buffer, baseOffset: number): { index: SegmentIndex; producers: StoredBatchInfo[] } | null {
    if (buf.length < FIXED + 8 || buf.readUInt32BE(0) !== MAGIC) return null;
    if ((crc32(buf.subarray(0, buf.length - 4)) >>> 0) !== buf.readUInt32BE(buf.length - 4)) return null;
    const count = buf.readUInt32BE(4);
    const producersAt = FIXED + count * 24;
    if (buf.length < producersAt + 8 || buf.length !== producersAt + 8 + buf.readUInt32BE(producersAt) * PRODUCER_BYTES) return null;
    const idx = new SegmentIndex(buf.readDoubleBE(8));
    if (idx.baseOffset !== baseOffset) return null;
    idx.nextOffset = buf.readDoubleBE(16);
    idx.size = buf.readDoubleBE(24);
    idx.maxTimestamp = buf.readDoubleBE(32);
    idx.offsets = new Float64Array(Math.max(count, 16));
    idx.positions = new Float64Array(Math.max(count, 16));
    idx.newestBefore = new Float64Array(Math.max(count, 16));
    for (let i = 0, p = FIXED; i < count; i++, p += 24) {
      idx.offsets[i] = buf.readDoubleBE(p);
      idx.positions[i] = buf.readDoubleBE(p + 8);
      idx.newestBefore[i] = buf.readDoubleBE(p + 16);
    }
    idx.count = count;
    if (count > 0) idx.sinceEntry = idx.size - idx.positions[count - 1];
    const producers: StoredBatchInfo[] = [];
    for (let i = 0, p = producersAt + 4; i < buf.readUInt32BE(producersAt); i++, p += PRODUCER_BYTES) {
      producers.push({
        baseOffset: buf.readDoubleBE(p), lastOffset: buf.readDoubleBE(p + 8), maxTimestamp: buf.readDoubleBE(p + 16),
        producerId: buf.readBigInt64BE(p + 24), producerEpoch: buf.readInt16BE(p + 32), baseSequence: buf.readInt32BE(p + 34),
      });
    }
    return { index: idx, producers };
  }

  private lastEntryWhere(pred: (i: number) => boolean): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (pred(mid)) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  private grow(): void {
    const grow = (a: Float64Array): Float64Array => {
      const b = new Float64Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.offsets = grow(this.offsets);
    this.positions = grow(this.positions);
    this.newestBefore = grow(this.newestBefore);
  }
}

/** Header fields of one batch, read in place. */
export interface BatchSummary {
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
}

export function summarize(buf: Buffer, at: number): BatchSummary {
  const baseOffset = Number(buf.readBigInt64BE(at));
  return {
    baseOffset,
    lastOffset: baseOffset + buf.readInt32BE(at + 23),
    maxTimestamp: Number(buf.readBigInt64BE(at + 35)),
    producerId: buf.readBigInt64BE(at + 43),
    producerEpoch: buf.readInt16BE(at + 51),
    baseSequence: buf.readInt32BE(at + 53),
  };
}

/**
 * Walks a segment's batches from the start, building its index. With `validate`, each batch's
 * CRC-32C and framing is checked (the active segment after a crash); without, only lengths and
 * offsets (sealed segments whose index file is missing). Stops at the first bad or short batch.
 * With a `checkpoint` (an index of the segment's first bytes), the walk starts where it ends.
 */
export async function scanSegment(
  fh: FileHandle, size: number, baseOffset: number, validate: boolean, onBatch?: (b: BatchSummary) => void,
  checkpoint: SegmentIndex = new SegmentIndex(baseOffset),
): Promise<{ index: SegmentIndex; problem?: string }> {
  const index = checkpoint;
  const win = new SegmentWindow(fh, size, 8 * 1024 * 1024);
  let pos = index.size;
  while (pos < size) {
    if (!(await win.ensure(pos, BATCH_HEADER_SIZE))) return { index, problem: 'torn batch header' };
    const [buf, at] = win.at(pos);
    const length = buf.readInt32BE(at + 8) + LOG_OVERHEAD;
    if (length < BATCH_HEADER_SIZE) return { index, problem: `impossible batch length ${length}` };
    if (!(await win.ensure(pos, length))) return { index, problem: 'torn batch' };
    const b = summarize(...win.at(pos));
    if (b.baseOffset !== index.nextOffset) return { index, problem: `batch offset ${b.baseOffset} where ${index.nextOffset} was expected` };
    if (b.lastOffset < b.baseOffset) return { index, problem: 'negative lastOffsetDelta' };
    if (validate) {
      try {
        validateBatch(win.bytes(pos, length));
      } catch (err) {
        return { index, problem: (err as Error).message };
      }
    }
    index.add(b.baseOffset, b.lastOffset, b.maxTimestamp, pos, length);
    onBatch?.(b);
    pos += length;
  }
  return { index };
}
