/**
 * One stream partition on disk: `<base offset, 20 digits>.log` segments holding record batches
 * byte for byte as appended, rolled at policy.segmentBytes, with a sparse offset/time index per
 * segment (persisted as `<base>.index` once sealed). Only the active segment is CRC-checked on open
 * (a torn tail there is cut), so opening costs a few KiB per sealed segment.
 *
 * The newest batches, and always every batch not yet written, stay in a small tail cache: tailing
 * consumers and reads racing appends never touch the file.
 *
 * Segment files are opened through the store's FilePool: a partition nobody writes or reads holds
 * no descriptor, and opening and recovery take one descriptor at a time within the pool's cap.
 */
import { constants } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FsyncPolicy, PartitionStore, RetentionPolicy, StoredBatchInfo } from '../store.js';
import { BATCH_HEADER_SIZE, batchSizeAt } from '../stream/batch-header.js';
import type { FilePool, PooledFile } from './file-pool.js';
import { scanSegment, SegmentIndex } from './segment-index.js';
import { TailCache } from './segment-tail-cache.js';
import { findBatchByTimestamp, firstOffsetAtOrAfter, readBatches } from './segment-window.js';
import { makeDirectory, PendingBytes, SegmentWriter, StorageLogger, StoreClosedError, syncDirectory, SyncScheduler } from './segment-writer.js';
import type { RecoverableLog, StorageRecovery } from './storage-recovery.js';

export interface PartitionLogOptions {
  policy: FsyncPolicy;
  scheduler: SyncScheduler;
  pending: PendingBytes;
  logger: StorageLogger;
  /** Newest bytes kept in memory for tailing readers (unwritten batches are always kept). */
  tailCacheBytes: number;
  /** The store-wide cap on open segment files. */
  files: FilePool;
  /** Brings the log back after a write error; without it the log stays offline until reopened. */
  recovery?: StorageRecovery;
  /** The store's disk cap (disk-limit.ts): an error refuses the append before anything is written. */
  admit?: (bytes: number) => Error | null;
}

interface Segment {
  index: SegmentIndex;
  path: string;
  /** Opened on demand for writes and reads; the pool closes it when idle and short of descriptors. */
  file: PooledFile;
  /** The active segment's writer, kept on a rolled segment until its seal completes. */
  writer: SegmentWriter | null;
  /** The writer until its seal succeeded: after a write error, recovery cuts the file to what it acknowledged. */
  appender: SegmentWriter | null;
  sealed: Promise<void> | null;
  /** Sealed under `never` without an fdatasync: flush() still owes it one. */
  unsynced: boolean;
}

const ACTIVE_FLAGS = constants.O_RDWR | constants.O_CREAT;

export const logFileName = (base: number): string => `${String(base).padStart(20, '0')}.log`;
const indexPathOf = (logPath: string): string => logPath.replace(/\.log$/, '.index');

export class PartitionLog implements PartitionStore, RecoverableLog {
  private readonly segments: Segment[] = [];
  private cache: TailCache;
  /** Offsets below this are written to their segment files. */
  private writtenEnd = 0;
  private recent: StoredBatchInfo[] = [];
  private bytes = 0;
  private failure: Error | null = null;
  private recovering: Promise<void> | null = null;
  private closed = false;

  constructor(readonly dir: string, private policy: RetentionPolicy, private readonly o: PartitionLogOptions) {
    this.cache = new TailCache(o.tailCacheBytes);
  }

  get logStartOffset(): number {
    return this.segments[0].index.baseOffset;
  }

  get nextOffset(): number {
    return this.active.index.nextOffset;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  get label(): string {
    return this.dir;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Set once a write or fsync failed: appends are refused until the log recovers (or is reopened). */
  get failed(): boolean {
    return this.failure !== null;
  }

  setPolicy(policy: RetentionPolicy): void {
    this.policy = policy;
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1];
  }

  /** Recovers the segments one file at a time and leaves none open: the active one opens at the first append or read. */
  async open(): Promise<this> {
    await makeDirectory(this.dir, this.o.policy, this.o.files);
    this.adopt(await this.load());
    return this;
  }

  /**
   * After a write error, once the disk takes writes again (storage-recovery.ts): cuts every segment
   * still being written to what it acknowledged, then recovers the segments as open() does, in
   * place (the broker's StreamPartition keeps this object): log end, index, producer batches and
   * tail cache match the files again. Throws, leaving the log offline, if the disk still refuses.
   */
  recover(): Promise<void> {
    if (this.closed || !this.failure) return Promise.resolve();
    this.recovering ??= (async () => {
      const writers = this.segments.map((s) => s.appender).filter((w): w is SegmentWriter => w !== null);
      for (const w of writers) await w.cutToAcked();
      // Segments rolled while the writes before them were failing hold nothing; left on disk, the
      // last of them would make the log resume at its base, leaving a gap of offsets never stored.
      for (const seg of this.segments.slice(1)) {
        if (seg.appender?.acked === 0) await this.removeSegmentFiles(seg.path);
      }
      const loaded = await this.load();
      if (this.closed) {
        await Promise.all(loaded.segments.map((s) => s.file.retire()));
        return;
      }
      await Promise.all(writers.map((w) => w.abandon()));
      const old = this.segments.splice(0);
      this.adopt(loaded);
      // Readers holding an old file retry on ENOENT and find the new one.
      await Promise.all(old.map((s) => s.file.retire()));
      this.failure = null;
    })().finally(() => {
      this.recovering = null;
    });
    return this.recovering;
  }

  private async load(): Promise<{ segments: Segment[]; bytes: number; recent: StoredBatchInfo[] }> {
    const bases = (await readdir(this.dir)).map((n) => /^(\d{20})\.log$/.exec(n)).filter((m) => m !== null)
      .map((m) => Number(m[1])).sort((a, b) => a - b);
    const segments: Segment[] = [];
    let bytes = 0;
    let recent: StoredBatchInfo[] = [];
    try {
      for (let i = 0; i < bases.length; i++) {
        const path = join(this.dir, logFileName(bases[i]));
        const last = i === bases.length - 1;
        let index: SegmentIndex;
        if (last) ({ index, recent } = await this.recoverActive(path, bases[i]));
        else index = await this.loadSealed(path, bases[i]);
        segments.push(this.newSegment(index, path, last));
        bytes += index.size;
      }
    } catch (err) {
      await Promise.all(segments.map((s) => s.file.retire()));
      throw err;
    }
    if (segments.length === 0) segments.push(this.newSegment(new SegmentIndex(0), join(this.dir, logFileName(0)), true));
    return { segments, bytes, recent };
  }

  private adopt(loaded: { segments: Segment[]; bytes: number; recent: StoredBatchInfo[] }): void {
    this.segments.push(...loaded.segments);
    this.bytes = loaded.bytes;
    this.recent = loaded.recent;
    this.cache = new TailCache(this.o.tailCacheBytes);
    this.active.writer = this.openWriter(this.active);
    this.writtenEnd = this.nextOffset;
  }

  append(batch: Buffer, info: StoredBatchInfo): Promise<void> {
    if (this.closed) return Promise.reject(new StoreClosedError('partition'));
    if (this.failure) return Promise.reject(this.failure);
    const refused = this.o.admit?.(batch.length);
    if (refused) return Promise.reject(refused);
    if (info.baseOffset !== this.nextOffset) {
      return Promise.reject(new RangeError(`append at offset ${info.baseOffset} but the log ends at ${this.nextOffset}`));
    }
    // The on-disk framing is the batch's own length field: refuse anything that would break it.
    if (batch.length < BATCH_HEADER_SIZE || batchSizeAt(batch, 0) !== batch.length || info.lastOffset < info.baseOffset
      || Number(batch.readBigInt64BE(0)) !== info.baseOffset) {
      return Promise.reject(new RangeError('record batch framing does not match its offsets'));
    }
    let seg = this.active;
    if (seg.index.size > 0 && seg.index.size + batch.length > this.policy.segmentBytes) seg = this.roll();
    seg.index.add(info.baseOffset, info.lastOffset, info.maxTimestamp, seg.index.size, batch.length);
    this.bytes += batch.length;
    if (info.producerId >= 0n) this.recent.push(info);
    this.cache.push(info.baseOffset, info.lastOffset, info.maxTimestamp, batch);
    const stored = seg.writer!.append(batch);
    stored.then(() => {
      if (info.lastOffset >= this.writtenEnd) this.writtenEnd = info.lastOffset + 1;
      this.cache.trim(this.writtenEnd, this.logStartOffset);
    }, () => undefined);
    return stored;
  }

  async read(offset: number, maxBytes: number): Promise<Buffer[]> {
    // Below the log start (retention ran): serve from the first batch still stored, as Kafka clients accept.
    let from = Math.max(offset, this.logStartOffset);
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new StoreClosedError('partition');
      if (from >= this.nextOffset) return [];
      const cached = this.cache.read(from, maxBytes);
      if (cached) return cached;
      try {
        const batches = await this.readDisk(from, maxBytes);
        if (batches.length > 0) return batches;
        // Offsets missing at a segment's end (lost to a power failure under `never`): go on with the next segment.
        const next = this.segments.find((s) => s.index.baseOffset > from);
        if (!next) return [];
        from = next.index.baseOffset;
      } catch (err) {
        // Retention may delete the segment between choosing it and opening it: look again.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 2) throw err;
        from = Math.max(from, this.logStartOffset);
      }
    }
  }

  async offsetForTimestamp(timestamp: number): Promise<number | null> {
    if (this.closed) throw new StoreClosedError('partition');
    for (const seg of [...this.segments]) {
      if (seg.index.maxTimestamp < timestamp) continue;
      const from = seg.index.floorTimestamp(timestamp);
      let batch: Buffer | null = null;
      const cacheStart = this.cache.start(this.nextOffset);
      if (from.offset < cacheStart) batch = await this.scanDiskForTimestamp(seg, from.position, timestamp);
      batch ??= this.cache.findTimestamp(Math.max(from.offset, cacheStart), timestamp);
      if (batch) return Math.max(await firstOffsetAtOrAfter(batch, timestamp), this.logStartOffset);
    }
    return null;
  }

  recentBatches(): StoredBatchInfo[] {
    return [...this.recent];
  }

  async applyRetention(policy: RetentionPolicy, now: number): Promise<void> {
    this.policy = policy;
    // Not while offline: recovery reloads the segment list.
    while (!this.closed && !this.failure && this.segments.length > 1) {
      const oldest = this.segments[0];
      await oldest.sealed?.catch(() => undefined);
      if (this.failure) break;
      if (this.segments[0] !== oldest || this.segments.length < 2) continue;
      const tooOld = policy.retentionMs >= 0 && oldest.index.maxTimestamp < now - policy.retentionMs;
      const tooBig = policy.retentionBytes >= 0 && this.bytes > policy.retentionBytes;
      if (!tooOld && !tooBig) break;
      this.segments.shift();
      this.bytes -= oldest.index.size;
      void oldest.file.retire(); // a read in flight keeps it until done; later ones retry on ENOENT
      this.cache.trim(this.writtenEnd, this.logStartOffset);
      await this.removeSegmentFiles(oldest.path);
    }
  }

  /** Everything appended so far is written and fdatasynced. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    await Promise.all(this.segments.map(async (s) => {
      if (s.writer) await s.writer.flush();
      await s.sealed;
      if (s.unsynced) {
        const fh = await s.file.acquire();
        try {
          await fh.datasync();
        } finally {
          s.file.release();
        }
        s.unsynced = false;
      }
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.recovering?.catch(() => undefined);
    this.o.recovery?.forget(this);
    let flushError: unknown = null;
    await this.flush().catch((err) => (flushError = err));
    this.closed = true;
    const active = this.active;
    await Promise.allSettled(this.segments.map((s) => (this.failure ? s.appender?.abandon() : s.writer?.seal() ?? s.sealed)));
    await Promise.all(this.segments.map((s) => s.file.retire()));
    if (!flushError && !this.failure) {
      // Checkpoint for the next open; if it is lost or torn, the segment is simply validated.
      await this.writeIndex(active.path, active.index.serialize(this.recent)).catch(() => undefined);
    }
    if (flushError) throw flushError;
  }

  private newSegment(index: SegmentIndex, path: string, active: boolean): Segment {
    const file = this.o.files.file(path, active
      // A new segment's name must survive power loss before anything in it is acknowledged.
      ? { flags: ACTIVE_FLAGS, onFirstOpen: this.o.policy === 'never' ? undefined : () => syncDirectory(this.dir) }
      // Never O_CREAT: a read racing retention must fail with ENOENT, not recreate a deleted segment.
      : { flags: 'r' });
    return { index, path, file, writer: null, appender: null, sealed: null, unsynced: false };
  }

  private async removeSegmentFiles(logPath: string): Promise<void> {
    await rm(logPath, { force: true });
    await rm(indexPathOf(logPath), { force: true });
  }

  private writeIndex(logPath: string, data: Buffer): Promise<void> {
    return this.o.files.with(indexPathOf(logPath), 'w', (fh) => fh.writeFile(data));
  }

  private readIndex(logPath: string): Promise<Buffer | null> {
    return this.o.files.with(indexPathOf(logPath), 'r', (fh) => fh.readFile()).catch(() => null);
  }

  private openWriter(seg: Segment, after?: Promise<void>): SegmentWriter {
    seg.appender = SegmentWriter.onFile(seg.file, seg.index.size, {
      policy: this.o.policy, scheduler: this.o.scheduler, pending: this.o.pending, after,
      onFailure: (err) => {
        if (this.failure) return;
        this.failure = err;
        if (this.o.recovery) this.o.recovery.offline(this, err);
        else this.o.logger.warn({ err, dir: this.dir }, 'partition log is offline after a write failure; reopen to recover');
      },
    });
    return seg.appender;
  }

  private roll(): Segment {
    const old = this.active;
    old.sealed = old.writer!.seal().then(async () => {
      old.writer = null;
      old.appender = null;
      old.file.flags = 'r';
      old.unsynced = this.o.policy === 'never';
      // Derived data: if this write is lost the index is rebuilt from the log on open.
      await this.writeIndex(old.path, old.index.serialize()).catch((err) => this.o.logger.warn({ err }, 'cannot write segment index'));
    });
    old.sealed.catch(() => undefined); // reported through onFailure
    const seg = this.newSegment(new SegmentIndex(this.nextOffset), join(this.dir, logFileName(this.nextOffset)), true);
    seg.writer = this.openWriter(seg, old.sealed);
    this.segments.push(seg);
    this.recent = [];
    return seg;
  }

  private async recoverActive(path: string, base: number): Promise<{ index: SegmentIndex; recent: StoredBatchInfo[] }> {
    // A clean close left a checkpoint of the segment's first bytes: only what follows it is validated.
    const saved = await this.readIndex(path);
    return this.o.files.with(path, 'r+', async (fh) => {
      const { size } = await fh.stat();
      let checkpoint = saved && SegmentIndex.deserialize(saved, base);
      if (checkpoint && checkpoint.index.size > size) checkpoint = null;
      const recent = checkpoint?.producers ?? [];
      const scan = await scanSegment(fh, size, base, true, (b) => {
        if (b.producerId >= 0n) recent.push(b);
      }, checkpoint?.index);
      if (scan.problem) {
        this.o.logger.warn({ segment: path, at: scan.index.size, dropped: size - scan.index.size, problem: scan.problem },
          'partition log: truncating torn or corrupt tail');
        await fh.truncate(scan.index.size);
        await fh.datasync();
      }
      return { index: scan.index, recent };
    });
  }

  private async loadSealed(path: string, base: number): Promise<SegmentIndex> {
    const { size } = await stat(path);
    const saved = await this.readIndex(path);
    const loaded = saved && SegmentIndex.deserialize(saved, base);
    if (loaded && loaded.index.size === size) return loaded.index;
    const index = await this.o.files.with(path, 'r+', async (fh) => {
      const scan = await scanSegment(fh, size, base, false);
      if (scan.problem) {
        this.o.logger.warn({ segment: path, at: scan.index.size, problem: scan.problem }, 'partition log: cutting a damaged sealed segment');
        await fh.truncate(scan.index.size);
      }
      return scan.index;
    });
    await this.writeIndex(path, index.serialize()).catch(() => undefined);
    return index;
  }

  private segmentFor(offset: number): Segment {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid].index.baseOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    return this.segments[lo];
  }

  /** Bytes of the segment already written to its file (the rest is in the tail cache). */
  private writtenLimit(seg: Segment): number {
    return seg.writer ? seg.writer.written : seg.index.size;
  }

  private async readDisk(offset: number, maxBytes: number): Promise<Buffer[]> {
    const seg = this.segmentFor(offset);
    const fh = await seg.file.acquire();
    try {
      return await readBatches(fh, seg.path, this.writtenLimit(seg), seg.index.floorOffset(offset).position, offset, maxBytes);
    } finally {
      seg.file.release();
    }
  }

  private async scanDiskForTimestamp(seg: Segment, position: number, timestamp: number): Promise<Buffer | null> {
    const fh = await seg.file.acquire();
    try {
      return await findBatchByTimestamp(fh, seg.path, this.writtenLimit(seg), position, timestamp);
    } finally {
      seg.file.release();
    }
  }
}
