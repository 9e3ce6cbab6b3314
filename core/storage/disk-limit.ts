/**
 * `storage.maxDiskBytes`: a cap on what the data directory holds (the journal's live records and
 * the stream partitions: FileStore.usedBytes). Past it the store refuses new messages (journal groups that enqueue, partition
 * appends) before writing anything, with a StorageFailedError each protocol already answers with
 * its own refusal; acks, metadata and compaction still write, so consumers can drain and free
 * space. Nothing stored is touched. Without a cap, the disk's free space is the limit (a full
 * disk takes the log offline until it takes writes again: storage-recovery.ts).
 */
import { StorageFailedError } from './segment-writer.js';

/** Keeps its parent's name (StorageFailedError): adapters answer it as any refused store. */
export class DiskLimitError extends StorageFailedError {}

/** The used figure is summed at most this often (a sum over every open partition). */
const REFRESH_MS = 50;

export class DiskLimit {
  private used = 0;
  /** Bytes admitted since `used` was measured: the cap holds between two measures too. */
  private added = 0;
  private at = -Infinity;

  constructor(readonly maxBytes: number, private readonly measure: () => number) {}

  /** Bytes held now, as far as known (measured at most every REFRESH_MS, plus what was admitted since). */
  get usedBytes(): number {
    const now = performance.now();
    if (now - this.at >= REFRESH_MS) {
      this.used = this.measure();
      this.added = 0;
      this.at = now;
    }
    return this.used + this.added;
  }

  /** An error when `bytes` more would pass the cap, else null (and the bytes count as admitted). */
  refuse(bytes: number): DiskLimitError | null {
    const used = this.usedBytes;
    if (used + bytes > this.maxBytes) {
      return new DiskLimitError(`storage limit reached: the data directory holds ${used} bytes of live data, storage.maxDiskBytes is ${this.maxBytes}; new messages are refused until consumers free space`);
    }
    this.added += bytes;
    return null;
  }
}
