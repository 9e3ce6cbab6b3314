/**
 * The append path shared by journal segments and partition segments: group commit, the fsync
 * policy, and one fsync timer for the whole store.
 *
 * Every append made in the same tick (and while the previous write is in flight) goes to disk in one
 * positioned writev, so a burst of a thousand small appends costs one syscall (and, under `always`,
 * one fdatasync). Groups are written strictly in order; a segment's writer waits for the previous
 * segment's seal, so nothing is ever reordered across a roll.
 */
import { constants } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FsyncPolicy } from '../store.js';
import { FilePool, type PooledFile } from './file-pool.js';
import { LatencyHistogram } from '../latency-histogram.js';

export interface StorageLogger {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
}

/** Bytes accepted but not yet written, summed over every writer of one store. */
export class PendingBytes {
  value = 0;
}

/** Raised for every call after a write or fsync failed: the log refuses writes until it recovers (storage-recovery.ts). */
export class StorageFailedError extends Error {
  override readonly name = 'StorageFailedError';
}

/** Raised for every call made after `close()`. */
export class StoreClosedError extends Error {
  override readonly name = 'StoreClosedError';
  constructor(what = 'store') {
    super(`${what} is closed`);
  }
}

interface Syncable {
  syncNow(): Promise<void>;
}

/**
 * One timer per store fsyncs every file written since the previous tick (`interval` policy). It
 * stops itself when nothing is dirty, so idle partitions cost nothing.
 */
export class SyncScheduler {
  /** Duration of every fdatasync of a segment, journal or partition (metrics). */
  readonly fsyncSeconds = new LatencyHistogram();
  private readonly dirty = new Set<Syncable>();
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;

  constructor(private readonly intervalMs: number) {}

  markDirty(target: Syncable): void {
    this.dirty.add(target);
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  forget(target: Syncable): void {
    this.dirty.delete(target);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.dirty.clear();
    await this.round;
  }

  private tick(): void {
    if (this.round) return;
    if (this.dirty.size === 0) {
      clearInterval(this.timer!);
      this.timer = null;
      return;
    }
    const targets = [...this.dirty];
    this.dirty.clear();
    // Failures are recorded by the writer itself (it goes offline); nothing more to do here.
    this.round = Promise.all(targets.map((t) => t.syncNow().catch(() => undefined))).then(() => {
      this.round = null;
    });
  }
}

export interface SegmentWriterOptions {
  policy: FsyncPolicy;
  scheduler: SyncScheduler;
  pending: PendingBytes;
  /** The previous segment's seal: writes start only after it, so segments never reorder. */
  after?: Promise<void>;
  /** fdatasync on seal even under `never` (journal segments: compaction deletes only what is durable). */
  syncOnSeal?: boolean;
  /** Directory to fsync once the file exists, so a new segment's name survives power loss. */
  syncDir?: string;
  /** Called once when the writer goes offline. */
  onFailure?: (err: Error) => void;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A group is capped so that under a flood the first callers are not held back by the last. */
const MAX_GROUP_BYTES = 8 * 1024 * 1024;

/** Files of writers that keep their own descriptor (the journal): never evicted. */
const unlimited = new FilePool(Infinity);

export class SegmentWriter implements Syncable {
  private queue: Buffer[] = [];
  private waiters: Waiter[] = [];
  private unwritten = 0;
  private running = false;
  private idle: Array<() => void> = [];
  /** Woken after each group written (or a failure): flushTo() waiting for its bytes. */
  private progress: Array<() => void> = [];
  private failure: Error | null = null;
  private sealing: Promise<void> | null = null;
  private closed = false;
  private syncing: Promise<void> = Promise.resolve();
  /** Written since the last fdatasync began. */
  private dirty = false;
  /** File position after the last group whose callers were told it is stored. */
  private ackedEnd: number;

  private constructor(private readonly file: PooledFile, public written: number, private readonly o: SegmentWriterOptions,
    private readonly ownsFile: boolean) {
    this.ackedEnd = written;
    // The pool may close the file whenever no write is in flight: what was written is synced first.
    file.beforeClose = (fh) => this.syncBeforeClose(fh);
  }

  /** Opens (creating if absent) a segment file whose first `size` bytes are already valid; the writer keeps it open until sealed. */
  static open(path: string, size: number, o: SegmentWriterOptions): SegmentWriter {
    const file = unlimited.file(path, {
      flags: constants.O_RDWR | constants.O_CREAT,
      onFirstOpen: o.syncDir && o.policy !== 'never' ? () => syncDirectory(o.syncDir!) : undefined,
    });
    file.acquire().then(() => file.release(), () => undefined); // a failure surfaces at the first write
    return new SegmentWriter(file, size, o, true);
  }

  /**
   * A writer on a pooled file (a partition segment), which its owner retires. The file is opened
   * for each write group and may be closed by the pool between them.
   */
  static onFile(file: PooledFile, size: number, o: SegmentWriterOptions): SegmentWriter {
    return new SegmentWriter(file, size, o, false);
  }

  /** File position the next appended buffer will land at. */
  get end(): number {
    return this.written + this.unwritten;
  }

  get failed(): Error | null {
    return this.failure;
  }

  /** Bytes of the file that hold groups acknowledged to their callers: all a failed writer's file may keep. */
  get acked(): number {
    return this.ackedEnd;
  }

  /**
   * After a failure, once nothing runs: cuts whatever follows the acknowledged groups (a group
   * written but refused because its fsync failed) and fdatasyncs the file. Throws if the disk
   * still refuses; the writer stays failed either way (its owner opens a new one).
   */
  async cutToAcked(): Promise<void> {
    await this.drain();
    const fh = await this.file.acquire();
    try {
      await fh.truncate(this.ackedEnd);
      await fh.datasync();
    } finally {
      this.file.release();
    }
  }

  append(buf: Buffer): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.sealing) return Promise.reject(new Error('segment is sealed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push(buf);
      this.waiters.push({ resolve, reject });
      this.unwritten += buf.length;
      this.o.pending.value += buf.length;
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.run());
      }
    });
  }

  /** Resolves once everything appended so far is written (not necessarily synced). */
  drain(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /**
   * The file's first `end` bytes are written and fdatasynced, whatever the policy. Unlike flush()
   * it does not wait for appends made after them: under a steady flood the writer never drains.
   */
  async flushTo(end: number): Promise<void> {
    while (this.written < end) {
      if (this.failure) throw this.failure;
      if (!this.running) throw new Error(`segment writer: ${end} bytes asked for, ${this.written} written and nothing queued`);
      await new Promise<void>((resolve) => this.progress.push(resolve));
    }
    if (this.failure) throw this.failure;
    await this.syncNow();
    if (this.failure) throw this.failure;
  }

  /** Everything appended so far is written and fdatasynced, whatever the policy. */
  async flush(): Promise<void> {
    await this.drain();
    if (this.failure) throw this.failure;
    await this.syncNow();
  }

  /** fdatasyncs what was written since the last sync (nothing, and no open, if the file is clean). */
  syncNow(): Promise<void> {
    if (this.closed || this.failure) return Promise.resolve();
    this.syncing = this.syncing.then(async () => {
      if (this.closed || this.failure || !this.dirty) return;
      try {
        const fh = await this.file.acquire();
        try {
          if (!this.dirty) return; // synced by the pool closing it meanwhile
          this.dirty = false;
          const started = process.hrtime.bigint();
          await fh.datasync();
          this.o.scheduler.fsyncSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
        } finally {
          this.file.release();
        }
      } catch (err) {
        // After a failed fsync the page cache may have dropped the data: never pretend otherwise.
        this.fail(err as Error);
        throw this.failure;
      }
    });
    return this.syncing;
  }

  /** Refuses further appends, writes what is queued and syncs (per policy); an owned file is closed. */
  seal(): Promise<void> {
    this.sealing ??= (async () => {
      await this.drain();
      this.o.scheduler.forget(this);
      if (this.failure) throw this.failure;
      if (this.o.policy !== 'never' || this.o.syncOnSeal) await this.syncNow();
      await this.syncing;
      if (this.failure) throw this.failure;
      this.closed = true;
      if (this.ownsFile) await this.file.retire();
    })();
    return this.sealing;
  }

  /** Stops without syncing or waiting (a failed log being abandoned); an owned file is closed. */
  async abandon(): Promise<void> {
    this.sealing ??= Promise.resolve();
    this.closed = true;
    this.o.scheduler.forget(this);
    if (this.ownsFile) await this.file.retire();
  }

  /** The pool is closing the file: under `always` and `interval` what it holds unsynced is synced first. */
  private async syncBeforeClose(fh: FileHandle): Promise<void> {
    if (!this.dirty || this.closed || this.failure || (this.o.policy === 'never' && !this.o.syncOnSeal)) return;
    this.dirty = false;
    try {
      await fh.datasync();
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private async run(): Promise<void> {
    try {
      if (this.o.after) await this.o.after;
      while (this.queue.length > 0 && !this.failure) {
        let bytes = 0;
        let n = 0;
        while (n < this.queue.length && (n === 0 || bytes + this.queue[n].length <= MAX_GROUP_BYTES)) bytes += this.queue[n++].length;
        const bufs = this.queue.splice(0, n);
        const waiters = this.waiters.splice(0, n);
        try {
          // Pinned for the write (and the sync under `always`) only: between groups the pool may take it.
          const fh = await this.file.acquire();
          try {
            await writeFully(fh, bufs, this.written, bytes).catch(async (err: unknown) => {
              // Every caller of this group is refused: cut whatever part of it reached the file, so
              // the next open cannot recover records nobody was told are stored (an idempotent
              // producer that reused such a record's sequence would be answered as its duplicate).
              await fh.truncate(this.written).catch(() => undefined);
              throw err;
            });
            this.dirty = true; // after the write: a sync that began during it did not cover it
            this.written += bytes;
            this.unwritten -= bytes;
            this.o.pending.value -= bytes;
            if (this.o.policy === 'always') await this.syncNow();
          } finally {
            this.file.release();
          }
          if (this.o.policy === 'interval') this.o.scheduler.markDirty(this);
        } catch (err) {
          this.fail(err as Error, waiters);
          break;
        }
        if (this.failure) for (const w of waiters) w.reject(this.failure);
        else {
          this.ackedEnd = this.written;
          for (const w of waiters) w.resolve();
        }
        for (const wake of this.progress.splice(0)) wake();
      }
    } catch (err) {
      this.fail(err as Error);
    }
    // A group written but refused (its fsync failed under `always`) must not come back at the next open either.
    if (this.failure && this.written > this.ackedEnd) await this.cutRefused();
    this.running = false;
    for (const wake of this.idle.splice(0)) wake();
    for (const wake of this.progress.splice(0)) wake();
  }

  private async cutRefused(): Promise<void> {
    try {
      const fh = await this.file.acquire();
      try {
        await fh.truncate(this.ackedEnd);
      } finally {
        this.file.release();
      }
    } catch {
      // Recovery cuts it again before the log takes writes (cutToAcked).
    }
  }

  private fail(err: Error, inFlight: Waiter[] = []): void {
    if (!this.failure) {
      this.failure = err instanceof StorageFailedError ? err : new StorageFailedError(`storage write failed: ${err.message}`, { cause: err });
      this.o.onFailure?.(this.failure);
    }
    const waiters = [...inFlight, ...this.waiters.splice(0)];
    this.queue = [];
    this.o.pending.value -= this.unwritten;
    this.unwritten = 0;
    for (const w of waiters) w.reject(this.failure);
  }
}

async function writeFully(fh: FileHandle, bufs: Buffer[], position: number, total: number): Promise<void> {
  let done = 0;
  while (done < total) {
    const { bytesWritten } = await fh.writev(bufs, position + done);
    if (bytesWritten <= 0) throw new Error('short write');
    done += bytesWritten;
    if (done < total) bufs = dropBytes(bufs, bytesWritten);
  }
}

function dropBytes(bufs: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (n >= bufs[i].length) n -= bufs[i++].length;
  return [bufs[i].subarray(n), ...bufs.slice(i + 1)];
}

/** mkdir -p; the directories it creates are fsynced into their parents (unless `never`), so a new partition survives power loss. */
export async function makeDirectory(dir: string, policy: FsyncPolicy, pool?: FilePool): Promise<void> {
  const created = await mkdir(dir, { recursive: true });
  if (!created || policy === 'never') return;
  for (let d = dir; ; d = dirname(d)) {
    await syncDirectory(dirname(d), pool);
    if (d === created || dirname(d) === d) break;
  }
}

/** fsyncs a directory so that files created or renamed in it survive power loss (inside the pool's cap if given). */
export async function syncDirectory(dir: string, pool?: FilePool): Promise<void> {
  if (pool) return pool.with(dir, 'r', (fh) => fh.sync());
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
